//! The latency quantile of each arm with what its clustered test needs
//! ([`crate::stats::ClusteredQuantile`]), from per-user latency counts
//! ([`pipeline::costs::user_latencies`]): the arm's p95 and the quantiles at its order-statistic
//! interval's levels, then each user's replies at or below the p95. Two small collects: the
//! per-arm distribution first, since the per-user counts depend on its quantile.

use polars::prelude::*;

use crate::collect::shared::collect_plan as collect;
use crate::pipeline::costs::latency as l;
use crate::schema::{assignments as a, messages as m};
use crate::stats::{interval_levels, weighted_quantile};

/// `arm` and the columns of [`l`], from the per-user counts of every user of the window (each
/// user's rows may be split over several frames, e.g. days: they are added up).
pub fn latency_quantiles(user_latencies: LazyFrame, key: &str) -> PolarsResult<DataFrame> {
    let histogram = user_latencies
        .group_by([col(key), col(a::ARM), col(m::LATENCY_MS)])
        .agg([col(l::N).sum()]);
    let distribution = collect(
        histogram
            .clone()
            .group_by([col(a::ARM), col(m::LATENCY_MS)])
            .agg([col(l::N).sum()])
            .sort([a::ARM, m::LATENCY_MS], SortMultipleOptions::default()),
    )?;
    let quantiles = arm_quantiles(&distribution)?;
    let per_user = histogram
        .join(
            quantiles
                .clone()
                .lazy()
                .select([col(a::ARM), col(l::Q_HAT)]),
            [col(a::ARM)],
            [col(a::ARM)],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col(key), col(a::ARM)])
        .agg([
            when(col(m::LATENCY_MS).lt_eq(col(l::Q_HAT)))
                .then(col(l::N))
                .otherwise(lit(0u64))
                .sum()
                .cast(DataType::Float64)
                .alias(l::MAIN),
            col(l::N).sum().cast(DataType::Float64).alias(l::DEN),
        ]);
    let moments = per_user.group_by([col(a::ARM)]).agg([
        len().cast(DataType::UInt64).alias(l::CLUSTERS),
        col(l::MAIN).sum(),
        (col(l::MAIN) * col(l::MAIN)).sum().alias(l::MAIN_SQ),
        col(l::DEN).sum(),
        (col(l::DEN) * col(l::DEN)).sum().alias(l::DEN_SQ),
        (col(l::MAIN) * col(l::DEN)).sum().alias(l::MAIN_X_DEN),
    ]);
    collect(
        quantiles
            .lazy()
            .join(
                moments,
                [col(a::ARM)],
                [col(a::ARM)],
                JoinArgs::new(JoinType::Inner),
            )
            .sort([a::ARM], SortMultipleOptions::default()),
    )
}

/// Per arm: events, the p95 and the quantiles at its interval's levels, from `arm, latency_ms,
/// n` sorted by arm and latency.
fn arm_quantiles(distribution: &DataFrame) -> PolarsResult<DataFrame> {
    let by_arm = latency_counts_by_arm(distribution, l::N)?;
    let mut columns: [Vec<f64>; 3] = Default::default();
    let mut events = Vec::new();
    for (_, rows) in &by_arm {
        let n: u64 = rows.iter().map(|r| r.1).sum();
        let (low, high) = interval_levels(l::LEVEL, n);
        for (column, level) in columns.iter_mut().zip([l::LEVEL, low, high]) {
            column.push(weighted_quantile(rows, level));
        }
        events.push(n);
    }
    let [q_hat, q_lower, q_upper] = columns;
    let names: Vec<&str> = by_arm.iter().map(|(arm, _)| arm.as_str()).collect();
    DataFrame::new_infer_height(vec![
        Column::new(a::ARM.into(), names),
        Column::new(l::EVENTS.into(), events),
        Column::new(l::Q_HAT.into(), q_hat),
        Column::new(l::Q_LOWER.into(), q_lower),
        Column::new(l::Q_UPPER.into(), q_upper),
    ])
}

/// Each arm's `(latency, count)` rows, sorted by latency.
pub(crate) type ArmLatencies = Vec<(String, Vec<(f64, u64)>)>;

/// `(latency, count)` rows per arm from `arm, latency_ms, <count>` sorted by arm and latency.
pub(crate) fn latency_counts_by_arm(counts: &DataFrame, count: &str) -> PolarsResult<ArmLatencies> {
    let arms = counts.column(a::ARM)?.str()?;
    let values = counts.column(m::LATENCY_MS)?.f64()?;
    let ns = counts.column(count)?.u64()?;
    let mut by_arm: ArmLatencies = Vec::new();
    for i in 0..counts.height() {
        let (Some(arm), Some(value), Some(n)) = (arms.get(i), values.get(i), ns.get(i)) else {
            continue;
        };
        match by_arm.last_mut() {
            Some((last, rows)) if last == arm => rows.push((value, n)),
            _ => by_arm.push((arm.to_owned(), vec![(value, n)])),
        }
    }
    Ok(by_arm)
}
