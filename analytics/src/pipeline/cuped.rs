//! The inputs of CUPED (`stats::cuped`): each user's pre-exposure covariates, and the report's
//! outcomes summed per cell of equal covariates. Cells add up across any split of the users, so
//! the one pass, user groups and kept day parts all give the same cells.

use polars::prelude::*;

use super::{day_of, out};
use crate::schema::{assignments as a, messages as m, micros};

/// Pre-exposure activity counts the days with a user message in this many days before d0.
pub const PRE_EXPOSURE_DAYS: i64 = 14;

/// Columns of the CUPED inputs.
pub mod cols {
    /// Distinct days with a user message in the 14 days before d0 (0 for users new to the log).
    pub const PRE_ACTIVE_DAYS: &str = "pre_active_days";
    pub const ACTIVE: &str = "active";
    pub const MESSAGES_SUM: &str = "messages_sum";
    pub const MESSAGES_SQ: &str = "messages_sq";
    pub const TIME_SUM: &str = "time_sum";
    pub const TIME_SQ: &str = "time_sq";
}

/// The days each user sent a message on, from any conversation of the log: `user_id, day`.
pub fn active_user_days(messages: LazyFrame) -> LazyFrame {
    messages
        .filter(col(m::ROLE).cast(DataType::String).eq(lit(m::ROLE_USER)))
        .select([
            col(m::USER_ID),
            day_of(micros(m::CREATED_AT)).alias(out::DAY),
        ])
        .unique(None, UniqueKeepStrategy::Any)
}

/// Each cohort user's covariates: `uid, arm, d0, pre_active_days` and the `attr_<name>` columns
/// of their first exposure (empty text where missing). `active_days` is [`active_user_days`].
pub fn user_covariates(
    cohorts: LazyFrame,
    active_days: LazyFrame,
    assignments: LazyFrame,
    experiment: &str,
    attributes: &[String],
) -> LazyFrame {
    let pre_active = cohorts
        .clone()
        .select([col(a::USER_ID), col(out::D0)])
        .join(
            active_days,
            [col(a::USER_ID)],
            [col(m::USER_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col(out::DAY)
                .lt(col(out::D0))
                .and(col(out::DAY).gt_eq(col(out::D0) - lit(PRE_EXPOSURE_DAYS))),
        )
        .group_by([col(a::USER_ID)])
        .agg([len().cast(DataType::Float64).alias(cols::PRE_ACTIVE_DAYS)]);
    let mut covariates = cohorts
        .join(
            pre_active,
            [col(a::USER_ID)],
            [col(a::USER_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col(cols::PRE_ACTIVE_DAYS).fill_null(lit(0.0)));
    if !attributes.is_empty() {
        covariates = covariates.join(
            first_exposure_attributes(assignments, experiment, attributes),
            [col(a::USER_ID)],
            [col(a::USER_ID)],
            JoinArgs::new(JoinType::Left),
        );
    }
    let mut columns = vec![
        col(out::UID),
        col(a::ARM),
        col(out::D0),
        col(cols::PRE_ACTIVE_DAYS),
    ];
    columns.extend(attribute_names(attributes).map(|c| col(c.as_str()).fill_null(lit(""))));
    covariates.select(columns)
}

/// The `attr_<name>` column of each attribute.
pub fn attribute_names(attributes: &[String]) -> impl Iterator<Item = String> + '_ {
    attributes
        .iter()
        .map(|name| format!("{}{name}", a::ATTRIBUTE_PREFIX))
}

/// The attributes of each user's first exposure to `experiment`: `user_id, attr_*`.
fn first_exposure_attributes(
    assignments: LazyFrame,
    experiment: &str,
    attributes: &[String],
) -> LazyFrame {
    let first = |c: String| {
        col(c.as_str())
            .cast(DataType::String)
            .sort_by([col(out::TS)], SortMultipleOptions::default())
            .first()
    };
    assignments
        .filter(col(a::EXPERIMENT).eq(lit(experiment)))
        .with_column(micros(a::ASSIGNED_AT).alias(out::TS))
        .group_by([col(a::USER_ID)])
        .agg(attribute_names(attributes).map(first).collect::<Vec<_>>())
}

/// The keys of a cell: pre-exposure activity and the attribute columns.
fn cell_keys(attributes: &[String]) -> Vec<Expr> {
    let mut keys = vec![col(cols::PRE_ACTIVE_DAYS)];
    keys.extend(attribute_names(attributes).map(|c| col(c.as_str())));
    keys
}

/// Users per arm, exposure day and cell: `arm, d0, pre_active_days, attr_*, users`. The users
/// eligible on day k follow from it.
pub fn cohort_cells(covariates: LazyFrame, attributes: &[String]) -> LazyFrame {
    let mut keys = vec![col(a::ARM), col(out::D0)];
    keys.extend(cell_keys(attributes));
    covariates
        .group_by(keys)
        .agg([len().cast(DataType::Float64).alias(out::USERS)])
}

/// The outcomes of users active on day k (a user message), summed per arm, k and cell:
/// `arm, k, pre_active_days, attr_*, active, messages_sum, messages_sq, time_sum, time_sq`.
/// `user_days` is [`super::user_days`] with `uid`.
pub fn active_cells(
    covariates: LazyFrame,
    user_days: LazyFrame,
    attributes: &[String],
) -> LazyFrame {
    let mut keys = vec![col(a::ARM), col(out::K)];
    keys.extend(cell_keys(attributes));
    let squared = |c: &str| (col(c) * col(c)).sum();
    user_days
        .filter(col(out::USER_MESSAGES).gt(lit(0.0)))
        .select([
            col(out::UID),
            col(out::K),
            col(out::USER_MESSAGES),
            col(out::TIME_SPENT_S),
        ])
        .join(
            covariates,
            [col(out::UID)],
            [col(out::UID)],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by(keys)
        .agg([
            len().cast(DataType::Float64).alias(cols::ACTIVE),
            col(out::USER_MESSAGES).sum().alias(cols::MESSAGES_SUM),
            squared(out::USER_MESSAGES).alias(cols::MESSAGES_SQ),
            col(out::TIME_SPENT_S).sum().alias(cols::TIME_SUM),
            squared(out::TIME_SPENT_S).alias(cols::TIME_SQ),
        ])
}

/// Cells of several groups or days added up: `frames` share their key columns (all but the
/// summed `values`).
pub fn summed_cells(frames: LazyFrame, values: &[&str]) -> PolarsResult<LazyFrame> {
    let schema = frames.clone().collect_schema()?;
    let keys: Vec<Expr> = schema
        .iter_names()
        .filter(|name| !values.contains(&name.as_str()))
        .map(|name| col(name.as_str()))
        .collect();
    Ok(frames
        .group_by(keys)
        .agg(values.iter().map(|v| col(*v).sum()).collect::<Vec<_>>()))
}
