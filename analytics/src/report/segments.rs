//! The report per value of each user attribute (`segments[]`), read from CUPED's cells: a cell is
//! users of one arm with equal first-exposure attributes, so a segment's counts, sums and squares
//! are those cells added up, and every way of collecting a report gives the same segments. Within
//! a segment the comparisons are the arm report's own (the same functions); the corrections run
//! across the attribute's values, and the heterogeneity test asks whether the effect on the
//! primary metric differs between them.

use std::collections::BTreeMap;

use blendlab_experiments::PrimaryMetric;
use polars::prelude::*;

use super::columns::{floats, strings};
use super::comparisons::{adjust, arm_counts, compare, ArmCounts, DayRow};
use super::{cuped, power_laws, ArmReport, ReportRequest, Segment};
use crate::collect::CupedCells;
use crate::pipeline::cuped::cols;
use crate::pipeline::{out, Horizon};
use crate::schema::assignments as a;
use crate::stats::{self, interaction_wald, MeanSummary, ProportionCounts};
use crate::AnalyticsError;

/// Why a segment's arms carry no attribution, policy values or guardrails.
const WHOLE_ARM_ONLY: &str =
    "segments report retention and engagement; attribution, policy values and guardrails are the whole arm's";

/// Every segment of every attribute with 2 to [`cuped::MAX_ATTRIBUTE_VALUES`] values, sorted by
/// attribute and value. `arms` are `(name, models)` with control first.
pub(super) fn segments(
    request: &ReportRequest,
    horizon: Horizon,
    cells: &CupedCells,
    arms: &[(String, Vec<String>)],
) -> Result<Vec<Segment>, AnalyticsError> {
    let mut segments = Vec::new();
    let mut attributes = cuped::attribute_columns(&cells.cohort)?;
    attributes.sort();
    for (column, values) in attributes {
        if values.len() < 2 {
            continue;
        }
        let mut attribute: Vec<(Segment, Vec<ArmCounts>)> = Vec::new();
        for value in values {
            let subset = CupedCells {
                cohort: only(&cells.cohort, &column, &value)?,
                active: only(&cells.active, &column, &value)?,
            };
            attribute.push(segment(horizon, &subset, arms, &column, value)?);
        }
        correct_across_values(&mut attribute);
        let p_value = heterogeneity(request.decision.primary, &attribute);
        for (mut segment, _) in attribute {
            segment.heterogeneity_metric = request.decision.primary.to_string();
            segment.heterogeneity_p_value = p_value;
            segments.push(segment);
        }
    }
    Ok(segments)
}

/// The cells whose `column` holds `value`.
fn only(frame: &DataFrame, column: &str, value: &str) -> Result<DataFrame, AnalyticsError> {
    Ok(frame
        .clone()
        .lazy()
        .filter(col(column).cast(DataType::String).eq(lit(value)))
        .collect()?)
}

/// One value's report: the same counts and comparisons as the arms, over its users.
fn segment(
    horizon: Horizon,
    cells: &CupedCells,
    arms: &[(String, Vec<String>)],
    column: &str,
    value: String,
) -> Result<(Segment, Vec<ArmCounts>), AnalyticsError> {
    let sizes = cohort_sizes(&cells.cohort)?;
    let per_day = active_days(&cells.active)?;
    let counts: Vec<ArmCounts> = arms
        .iter()
        .map(|(name, models)| {
            arm_counts(name.clone(), 1.0, models.clone(), horizon, &sizes, &per_day)
        })
        .collect();
    let adjusted = cuped::CupedReader::read(cells, horizon.as_of_day)?;
    let control = arm_report(&counts[0]);
    let mut reports = vec![control.clone()];
    for arm in &counts[1..] {
        let mut report = arm_report(arm);
        compare(&mut report, arm, &control, &counts[0]);
        adjust(&mut report, &control.arm, &adjusted);
        report.power_law = power_laws(&report.retention, &report.engagement, &control);
        reports.push(report);
    }
    let segment = Segment {
        attribute: column
            .strip_prefix(a::ATTRIBUTE_PREFIX)
            .unwrap_or(column)
            .to_owned(),
        value,
        users: counts.iter().map(|arm| arm.users).sum(),
        heterogeneity_metric: String::new(),
        heterogeneity_p_value: None,
        arms: reports,
    };
    Ok((segment, counts))
}

fn arm_report(arm: &ArmCounts) -> ArmReport {
    ArmReport {
        policy_values_reason: Some(WHOLE_ARM_ONLY.into()),
        ..arm.bare_report()
    }
}

/// `(arm, d0, users)` of the cohort cells.
fn cohort_sizes(cohort: &DataFrame) -> Result<Vec<(String, i64, u64)>, AnalyticsError> {
    let (arm, d0, users) = (
        strings(cohort, a::ARM)?,
        floats(cohort, out::D0)?,
        floats(cohort, out::USERS)?,
    );
    let mut sizes: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for (row, arm) in arm.iter().enumerate() {
        let key = (arm.clone(), d0[row].unwrap_or(0.0) as i64);
        *sizes.entry(key).or_default() += users[row].unwrap_or(0.0) as u64;
    }
    Ok(sizes
        .into_iter()
        .map(|((arm, d0), users)| (arm, d0, users))
        .collect())
}

/// `(arm, k)` -> the active users' count and moments, from the active cells' sums.
fn active_days(active: &DataFrame) -> Result<BTreeMap<(String, u32), DayRow>, AnalyticsError> {
    let column = |name| floats(active, name);
    let (arm, k) = (strings(active, a::ARM)?, column(out::K)?);
    let (users, time, time_sq) = (
        column(cols::ACTIVE)?,
        column(cols::TIME_SUM)?,
        column(cols::TIME_SQ)?,
    );
    let (messages, messages_sq) = (column(cols::MESSAGES_SUM)?, column(cols::MESSAGES_SQ)?);
    let value = |v: &[Option<f64>], row: usize| v[row].unwrap_or(0.0);
    let mut sums: BTreeMap<(String, u32), [f64; 5]> = BTreeMap::new();
    for (row, arm) in arm.iter().enumerate() {
        let key = (arm.clone(), value(&k, row) as u32);
        let entry = sums.entry(key).or_default();
        for (total, v) in entry
            .iter_mut()
            .zip([&users, &time, &time_sq, &messages, &messages_sq])
        {
            *total += value(v, row);
        }
    }
    Ok(sums
        .into_iter()
        .map(|(key, [n, time, time_sq, messages, messages_sq])| {
            let row = DayRow {
                retained: n as u64,
                time: MeanSummary::from_sums(n, time, time_sq),
                user_messages: MeanSummary::from_sums(n, messages, messages_sq),
            };
            (key, row)
        })
        .collect())
}

/// Holm and Benjamini-Hochberg across the attribute's values, for each arm, metric and day.
fn correct_across_values(attribute: &mut [(Segment, Vec<ArmCounts>)]) {
    let Some((first, _)) = attribute.first() else {
        return;
    };
    let (arms, days) = (first.arms.len(), first.arms[0].retention.len());
    for arm in 1..arms {
        for day in 0..days {
            for metric in 0..3 {
                let mut family: Vec<(usize, f64)> = Vec::new();
                for (g, (segment, _)) in attribute.iter_mut().enumerate() {
                    if let Some((p, _, _)) = slot(&mut segment.arms[arm], day, metric) {
                        family.push((g, *p));
                    }
                }
                let p_values: Vec<f64> = family.iter().map(|(_, p)| *p).collect();
                let (holm, bh) = (stats::holm(&p_values), stats::benjamini_hochberg(&p_values));
                for ((g, _), (holm, bh)) in family.into_iter().zip(holm.into_iter().zip(bh)) {
                    let (_, adjusted, q) =
                        slot(&mut attribute[g].0.arms[arm], day, metric).expect("tested above");
                    (*adjusted, *q) = (holm, bh);
                }
            }
        }
    }
}

/// Metric `metric` (retention, time spent, user messages) of `day`: its p-value, Holm p-value
/// and q-value, where the comparison exists.
fn slot(arm: &mut ArmReport, day: usize, metric: usize) -> Option<(&mut f64, &mut f64, &mut f64)> {
    match metric {
        0 => arm.retention[day]
            .vs_control
            .as_mut()
            .map(|v| (&mut v.p_value, &mut v.p_value_adjusted, &mut v.q_value)),
        1 => arm.engagement[day]
            .vs_control
            .as_mut()
            .map(|v| (&mut v.p_value, &mut v.p_value_adjusted, &mut v.q_value)),
        _ => arm.engagement[day]
            .vs_control_user_messages
            .as_mut()
            .map(|v| (&mut v.p_value, &mut v.p_value_adjusted, &mut v.q_value)),
    }
}

/// The interaction test of the primary metric over the attribute's values.
fn heterogeneity(primary: PrimaryMetric, attribute: &[(Segment, Vec<ArmCounts>)]) -> Option<f64> {
    let day = primary.day() as usize;
    let values: Vec<Vec<MeanSummary>> = attribute
        .iter()
        .map(|(segment, counts)| {
            segment
                .arms
                .iter()
                .zip(counts)
                .map(|(report, arm)| outcome(primary, report, arm, day))
                .collect()
        })
        .collect();
    interaction_wald(&values).map(|test| test.p_value)
}

/// One arm's moments of the primary metric on `day`: day-k activity (0/1) over the eligible
/// users, or the active users' engagement. Zero users where the day is not reached.
fn outcome(primary: PrimaryMetric, report: &ArmReport, arm: &ArmCounts, day: usize) -> MeanSummary {
    let none = MeanSummary {
        mean: 0.0,
        variance: 0.0,
        n: 0,
    };
    match primary {
        PrimaryMetric::Retention(_) => report.retention.get(day).map_or(none, |d| {
            MeanSummary::of_proportion(ProportionCounts::new(d.retained, d.eligible))
        }),
        PrimaryMetric::TimeSpent(_) => arm.time.get(day).copied().flatten().unwrap_or(none),
        PrimaryMetric::UserMessages(_) => arm
            .user_messages
            .get(day)
            .copied()
            .flatten()
            .unwrap_or(none),
    }
}
