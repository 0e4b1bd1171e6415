//! Blend components as a micro-randomized trial: each reply of a blended arm with its outcomes
//! (continuation, the next user message's length, retry, feedback), its context (the previous
//! reply's component and the depth in the conversation) and the probability its component was
//! drawn with; then per-user cells that the statistics (`report::attribution`) work from. The
//! cells are keyed by user, so every interval can be user-clustered, and they add up over days
//! and user groups.

use polars::prelude::*;

use super::{day_of, out, DAY_MICROS, SESSION_GAP_MICROS};
use crate::schema::{assignments as a, events as e, messages as m, micros};

/// Columns of the reply rows and the cells.
pub mod cols {
    pub use crate::schema::messages::CHOICE_PROB;
    pub const CONTINUED: &str = "continued";
    pub const NEXT_CHARS: &str = "next_chars";
    pub const PREVIOUS_MODEL: &str = "previous_model";
    pub const DEPTH_BUCKET: &str = "depth_bucket";
    pub const WAS_RETRIED: &str = "was_retried";
    pub const FEEDBACK: &str = "feedback";
    /// Earlier replies in the conversation (before bucketing).
    pub const DEPTH: &str = "depth";
    /// A conversation's tail: its last reply's component and how many replies it has had.
    pub const LAST_MODEL: &str = "last_model";
    pub const REPLIES_SO_FAR: &str = "replies_so_far";
    /// An event's own time, in microseconds.
    pub const EVENT_TS: &str = "event_ts";

    pub const REPLIES: &str = "replies";
    pub const MISSING_CHOICE_PROB: &str = "missing_choice_prob";
    pub const INVERSE_P: &str = "inverse_p";
    pub const CONTINUED_INVERSE_P: &str = "continued_inverse_p";
    pub const INVERSE_P_SQUARED: &str = "inverse_p_squared";
    pub const NEXT_CHARS_N: &str = "next_chars_n";
    pub const NEXT_CHARS_SUM: &str = "next_chars_sum";
    pub const RETRIED: &str = "retried";
    pub const FEEDBACK_N: &str = "feedback_n";
    pub const FEEDBACK_SUM: &str = "feedback_sum";
}

/// Events that carry a `message_id`, whether they have a `value` column, and the end of the
/// report's `as_of` (microseconds): no event after it counts.
pub struct EventInput {
    pub frame: LazyFrame,
    pub has_value: bool,
    pub until_micros: i64,
}

/// True on rows of one of `arms`.
pub fn in_arms(arms: &[String]) -> Expr {
    arms.iter().fold(lit(false), |any, arm| {
        any.or(col(a::ARM).eq(lit(arm.as_str())))
    })
}

/// The replies of `arms`, one row each, in conversation and time order: `arm, <user>,
/// conversation_id, ts, model, choice_prob, continued` and, as the log has them, `next_chars`
/// and `message_id`. `user` names the user column to keep (`uid` within one report, `user_id` in
/// a kept day part). Continued: the next message of the conversation is a user message within
/// 30 minutes (the sort by conversation is the pipeline's dearest step).
pub fn reply_rows(
    cohort_messages: LazyFrame,
    arms: &[String],
    extras: &[String],
    user: &str,
) -> LazyFrame {
    let has = |c: &str| extras.iter().any(|x| x == c);
    let next = |c: &str| col(c).shift(lit(-1));
    let continued = next(m::CONVERSATION_ID)
        .eq(col(m::CONVERSATION_ID))
        .and(next(out::IS_USER))
        .and((next(out::TS) - col(out::TS)).lt_eq(lit(SESSION_GAP_MICROS)))
        .fill_null(lit(false));
    let choice_prob = if has(cols::CHOICE_PROB) {
        col(cols::CHOICE_PROB).cast(DataType::Float64)
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    let mut columns = vec![
        col(a::ARM),
        col(user),
        col(m::CONVERSATION_ID),
        col(out::TS),
        col(out::IS_USER),
        col(out::IS_REPLY),
        col(m::MODEL),
        choice_prob.alias(cols::CHOICE_PROB),
    ];
    let mut keep = vec![
        col(a::ARM),
        col(user),
        col(m::CONVERSATION_ID),
        col(out::TS),
        col(m::MODEL),
        col(cols::CHOICE_PROB),
        col(cols::CONTINUED),
    ];
    if has(m::CONTENT_CHARS) {
        columns.push(col(m::CONTENT_CHARS).cast(DataType::Float64));
        keep.push(col(cols::NEXT_CHARS));
    }
    if has(m::MESSAGE_ID) {
        columns.push(col(m::MESSAGE_ID));
        keep.push(col(m::MESSAGE_ID));
    }
    let mut rows = cohort_messages
        .filter(in_arms(arms))
        .select(columns)
        .sort(
            [m::CONVERSATION_ID, out::TS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(continued.alias(cols::CONTINUED));
    if has(m::CONTENT_CHARS) {
        rows = rows.with_column(
            when(col(cols::CONTINUED))
                .then(next(m::CONTENT_CHARS))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(cols::NEXT_CHARS),
        );
    }
    rows.filter(col(out::IS_REPLY)).select(keep)
}

/// Adds each reply's context: `previous_model` (the conversation's previous reply's component,
/// null on its first) and `depth_bucket` (earlier replies in the conversation: 0, 1, 2-3, 4-7,
/// 8+). The rows of a conversation must be in time order.
pub fn with_turn_context(replies: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(with_depth_bucket(turn_context(replies, None)?))
}

/// Adds `previous_model` and `depth` (earlier replies in the conversation) to replies in
/// conversation and time order. `earlier` holds the [`conversation_tails`] of the replies before
/// these (a day part's conversations began on earlier days): a conversation's first reply here
/// continues from its tail.
pub fn turn_context(replies: LazyFrame, earlier: Option<LazyFrame>) -> PolarsResult<LazyFrame> {
    let position = col(out::TS)
        .cum_count(false)
        .over([col(m::CONVERSATION_ID)])?
        .cast(DataType::Int64)
        - lit(1i64);
    let rows = replies.with_columns([
        col(m::MODEL)
            .shift(lit(1))
            .over([col(m::CONVERSATION_ID)])?
            .alias(cols::PREVIOUS_MODEL),
        position.alias(cols::DEPTH),
    ]);
    let Some(tails) = earlier else {
        return Ok(rows);
    };
    // The window expressions above ran on the ordered rows; a join may reorder them.
    Ok(rows
        .join(
            tails,
            [col(m::CONVERSATION_ID)],
            [col(m::CONVERSATION_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            when(col(cols::DEPTH).eq(lit(0i64)))
                .then(col(cols::LAST_MODEL))
                .otherwise(col(cols::PREVIOUS_MODEL))
                .alias(cols::PREVIOUS_MODEL),
            (col(cols::DEPTH) + col(cols::REPLIES_SO_FAR).fill_null(lit(0i64))).alias(cols::DEPTH),
        ])
        .drop(by_name(
            [cols::LAST_MODEL, cols::REPLIES_SO_FAR],
            true,
            false,
        )))
}

/// [`turn_context`]'s `depth` as `depth_bucket`: 0, 1, 2-3, 4-7, 8+ earlier replies.
pub fn with_depth_bucket(rows: LazyFrame) -> LazyFrame {
    let depth = || col(cols::DEPTH);
    let bucket = when(depth().lt(lit(2i64)))
        .then(depth())
        .when(depth().lt(lit(4i64)))
        .then(lit(2i64))
        .when(depth().lt(lit(8i64)))
        .then(lit(3i64))
        .otherwise(lit(4i64));
    rows.with_column(bucket.cast(DataType::Int32).alias(cols::DEPTH_BUCKET))
        .drop(by_name([cols::DEPTH], true, false))
}

/// Per conversation of [`turn_context`]'s rows: `conversation_id, last_model, replies_so_far`,
/// what the conversation's next reply continues from.
pub fn conversation_tails(context: LazyFrame) -> LazyFrame {
    context.group_by([col(m::CONVERSATION_ID)]).agg([
        col(m::MODEL)
            .sort_by([col(cols::DEPTH)], SortMultipleOptions::default())
            .last()
            .alias(cols::LAST_MODEL),
        (col(cols::DEPTH).max() + lit(1i64)).alias(cols::REPLIES_SO_FAR),
    ])
}

/// The latest tail of each conversation among `tails` (each a [`conversation_tails`] frame):
/// the one with the most replies so far. None without any.
pub fn latest_tails(tails: impl IntoIterator<Item = LazyFrame>) -> PolarsResult<Option<DataFrame>> {
    let frames: Vec<LazyFrame> = tails.into_iter().collect();
    if frames.is_empty() {
        return Ok(None);
    }
    let latest = concat(frames, UnionArgs::default())?
        .group_by([col(m::CONVERSATION_ID)])
        .agg([
            col(cols::LAST_MODEL)
                .sort_by([col(cols::REPLIES_SO_FAR)], SortMultipleOptions::default())
                .last(),
            col(cols::REPLIES_SO_FAR).max(),
        ]);
    Ok(Some(latest.collect()?))
}

/// Per reply that events refer to: `message_id, was_retried` (any retry event) and `feedback`
/// (the mean value of its feedback events, null without any). `replies` has `message_id, ts`.
/// An event counts until the end of the day after its reply's, when the reply's continuation is
/// final too, and never after `as_of`: a day's outcomes are then final once the next day is
/// over, and a report as of a day reads the same whenever it is run.
pub fn event_outcomes(events: EventInput, replies: LazyFrame) -> LazyFrame {
    let until = || lit(events.until_micros);
    let day_after_reply = (day_of(col(out::TS)) + lit(2i64)) * lit(DAY_MICROS);
    let deadline = when(day_after_reply.clone().lt(until()))
        .then(day_after_reply)
        .otherwise(until());
    let value = if events.has_value {
        col(e::VALUE).cast(DataType::Float64)
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    let feedback = col(e::VALUE)
        .filter(col(e::KIND).eq(lit(e::KIND_FEEDBACK)))
        .mean();
    events
        .frame
        .filter(col(e::MESSAGE_ID).is_not_null())
        .select([
            col(e::MESSAGE_ID),
            col(e::KIND),
            value.alias(e::VALUE),
            micros(e::CREATED_AT).alias(cols::EVENT_TS),
        ])
        .filter(col(cols::EVENT_TS).lt(until()))
        .join(
            replies.select([col(m::MESSAGE_ID), col(out::TS)]),
            [col(e::MESSAGE_ID)],
            [col(m::MESSAGE_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(cols::EVENT_TS).lt(deadline))
        .group_by([col(e::MESSAGE_ID)])
        .agg([
            col(e::KIND)
                .eq(lit(e::KIND_RETRY))
                .any(true)
                .alias(cols::WAS_RETRIED),
            feedback.alias(cols::FEEDBACK),
        ])
}

/// Per (arm, user, model, previous_model, depth_bucket) of replies with their context: counts
/// and sums of every outcome, and of the inverse choice probabilities off-policy evaluation
/// needs. Events are joined by `message_id` when the log has both; the outcome columns a log
/// cannot give are left out. Sorted by arm and user, so that one user's cells are adjacent.
pub fn turn_cells(
    replies: LazyFrame,
    user: &str,
    extras: &[String],
    events: Option<EventInput>,
) -> LazyFrame {
    let has = |c: &str| extras.iter().any(|x| x == c);
    let p = || col(cols::CHOICE_PROB);
    let continued = || col(cols::CONTINUED).cast(DataType::Float64);
    let mut aggregates = vec![
        len().cast(DataType::UInt64).alias(cols::REPLIES),
        continued().sum().alias(cols::CONTINUED),
        p().is_null()
            .sum()
            .cast(DataType::UInt64)
            .alias(cols::MISSING_CHOICE_PROB),
        (lit(1.0) / p()).sum().alias(cols::INVERSE_P),
        (continued() / p()).sum().alias(cols::CONTINUED_INVERSE_P),
        (lit(1.0) / (p() * p()))
            .sum()
            .alias(cols::INVERSE_P_SQUARED),
    ];
    if has(m::CONTENT_CHARS) {
        let next = || col(cols::NEXT_CHARS);
        aggregates.push(
            next()
                .count()
                .cast(DataType::UInt64)
                .alias(cols::NEXT_CHARS_N),
        );
        aggregates.push(next().sum().alias(cols::NEXT_CHARS_SUM));
    }
    let mut replies = replies;
    if let (Some(events), true) = (events, has(m::MESSAGE_ID)) {
        replies = replies.clone().join(
            event_outcomes(events, replies),
            [col(m::MESSAGE_ID)],
            [col(e::MESSAGE_ID)],
            JoinArgs::new(JoinType::Left),
        );
        let feedback = || col(cols::FEEDBACK);
        aggregates.extend([
            col(cols::WAS_RETRIED)
                .fill_null(lit(false))
                .sum()
                .cast(DataType::UInt64)
                .alias(cols::RETRIED),
            feedback()
                .count()
                .cast(DataType::UInt64)
                .alias(cols::FEEDBACK_N),
            feedback().sum().alias(cols::FEEDBACK_SUM),
        ]);
    }
    replies
        .group_by([
            col(a::ARM),
            col(user),
            col(m::MODEL),
            col(cols::PREVIOUS_MODEL),
            col(cols::DEPTH_BUCKET),
        ])
        .agg(aggregates)
        .sort([a::ARM, user], SortMultipleOptions::default())
}

/// The one-pass cells of the blended arms: [`reply_rows`] (sorted), their context and
/// [`turn_cells`], keyed by `uid`.
pub fn attribution(
    cohort_messages: LazyFrame,
    blended_arms: &[String],
    extras: &[String],
    events: Option<EventInput>,
) -> PolarsResult<LazyFrame> {
    let rows = reply_rows(cohort_messages, blended_arms, extras, out::UID);
    Ok(turn_cells(
        with_turn_context(rows)?,
        out::UID,
        extras,
        events,
    ))
}
