//! CUPED's cells read into each arm's per-day outcome cells, and the adjusted comparisons
//! (`stats::cuped`). Covariates: pre-exposure active days, plus an indicator per value of each
//! user attribute with at most [`MAX_ATTRIBUTE_VALUES`] values (the regression drops the
//! indicators collinear with the intercept).

use std::collections::BTreeMap;

use super::columns::{floats, strings};
use super::CupedVsControl;
use crate::collect::CupedCells;
use crate::pipeline::cuped::cols;
use crate::pipeline::out;
use crate::schema::assignments as a;
use crate::stats::{regression_adjusted, OutcomeCell, ALPHA};
use crate::AnalyticsError;

/// An attribute with more values than this (an identifier, a free text) is left out of the
/// adjustment: its indicators would cost more degrees of freedom than they save variance.
pub const MAX_ATTRIBUTE_VALUES: usize = 20;

/// The outcome a comparison adjusts.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Retention,
    TimeSpent,
    UserMessages,
}

struct ActiveRow {
    cell: usize,
    active: f64,
    messages: (f64, f64),
    time: (f64, f64),
}

#[derive(Default)]
struct ArmCells {
    /// `(d0, cell, users)`.
    cohort: Vec<(i64, usize, f64)>,
    active: BTreeMap<i64, Vec<ActiveRow>>,
}

/// Every arm's cells, with each cell's covariate vector.
pub struct CupedReader {
    covariates: Vec<Vec<f64>>,
    arms: BTreeMap<String, ArmCells>,
    as_of_day: i64,
}

impl CupedReader {
    pub fn read(cells: &CupedCells, as_of_day: i64) -> Result<Self, AnalyticsError> {
        let attributes = attribute_columns(&cells.cohort)?;
        let mut index: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        let mut covariates = Vec::new();
        let mut cell_of =
            |frame: &polars::prelude::DataFrame| -> Result<Vec<usize>, AnalyticsError> {
                let pre = floats(frame, cols::PRE_ACTIVE_DAYS)?;
                let values: Vec<Vec<String>> = attributes
                    .iter()
                    .map(|(name, _)| strings(frame, name))
                    .collect::<Result<_, _>>()?;
                Ok((0..frame.height())
                    .map(|row| {
                        let days = pre[row].unwrap_or(0.0);
                        let mut key = vec![days.to_string()];
                        key.extend(values.iter().map(|column| column[row].clone()));
                        *index.entry(key).or_insert_with(|| {
                            let mut vector = vec![days];
                            for ((_, levels), column) in attributes.iter().zip(&values) {
                                vector.extend(
                                    levels
                                        .iter()
                                        .map(|l| f64::from(u8::from(*l == column[row]))),
                                );
                            }
                            covariates.push(vector);
                            covariates.len() - 1
                        })
                    })
                    .collect())
            };
        let mut arms: BTreeMap<String, ArmCells> = BTreeMap::new();
        let cohort_cells = cell_of(&cells.cohort)?;
        let (arm, d0, users) = (
            strings(&cells.cohort, a::ARM)?,
            floats(&cells.cohort, out::D0)?,
            floats(&cells.cohort, out::USERS)?,
        );
        for (row, cell) in cohort_cells.into_iter().enumerate() {
            arms.entry(arm[row].clone()).or_default().cohort.push((
                d0[row].unwrap_or(0.0) as i64,
                cell,
                users[row].unwrap_or(0.0),
            ));
        }
        let active_cells = cell_of(&cells.active)?;
        let column = |name| floats(&cells.active, name);
        let (arm, k) = (strings(&cells.active, a::ARM)?, column(out::K)?);
        let (active, messages, messages_sq) = (
            column(cols::ACTIVE)?,
            column(cols::MESSAGES_SUM)?,
            column(cols::MESSAGES_SQ)?,
        );
        let (time, time_sq) = (column(cols::TIME_SUM)?, column(cols::TIME_SQ)?);
        let value = |v: &[Option<f64>], row: usize| v[row].unwrap_or(0.0);
        for (row, cell) in active_cells.into_iter().enumerate() {
            let day = value(&k, row) as i64;
            arms.entry(arm[row].clone())
                .or_default()
                .active
                .entry(day)
                .or_default()
                .push(ActiveRow {
                    cell,
                    active: value(&active, row),
                    messages: (value(&messages, row), value(&messages_sq, row)),
                    time: (value(&time, row), value(&time_sq, row)),
                });
        }
        Ok(Self {
            covariates,
            arms,
            as_of_day,
        })
    }

    /// The adjusted comparison of `arm` against `control` on day `k`'s `outcome`.
    pub fn compare(
        &self,
        arm: &str,
        control: &str,
        k: u32,
        outcome: Outcome,
    ) -> Option<CupedVsControl> {
        let result = regression_adjusted(
            &self.cells(arm, k, outcome),
            &self.cells(control, k, outcome),
            ALPHA,
        )?;
        Some(CupedVsControl {
            diff: result.diff,
            ci_low: result.ci_low,
            ci_high: result.ci_high,
            p_value: result.p_value,
            variance_reduction: result.variance_reduction,
        })
    }

    /// One arm's outcome cells on day `k`: for retention, the eligible users of each cell and
    /// those active (outcome 1); for engagement, the active users' values.
    fn cells(&self, arm: &str, k: u32, outcome: Outcome) -> Vec<OutcomeCell> {
        let Some(arm) = self.arms.get(arm) else {
            return Vec::new();
        };
        let active = arm.active.get(&i64::from(k)).map_or(&[][..], Vec::as_slice);
        let mut by_cell: BTreeMap<usize, (f64, f64, f64)> = BTreeMap::new();
        match outcome {
            Outcome::Retention => {
                for &(d0, cell, users) in &arm.cohort {
                    if d0 + i64::from(k) <= self.as_of_day {
                        by_cell.entry(cell).or_default().0 += users;
                    }
                }
                for row in active {
                    let entry = by_cell.entry(row.cell).or_default();
                    entry.1 += row.active;
                    entry.2 += row.active;
                }
            }
            Outcome::TimeSpent | Outcome::UserMessages => {
                for row in active {
                    let (sum, sum_sq) = match outcome {
                        Outcome::TimeSpent => row.time,
                        _ => row.messages,
                    };
                    let entry = by_cell.entry(row.cell).or_default();
                    *entry = (entry.0 + row.active, entry.1 + sum, entry.2 + sum_sq);
                }
            }
        }
        by_cell
            .into_iter()
            .map(|(cell, (n, sum, sum_sq))| OutcomeCell {
                covariates: self.covariates[cell].clone(),
                n,
                sum,
                sum_sq,
            })
            .collect()
    }
}

/// The `attr_*` columns of the cells with their values, sorted; those with too many values are
/// left out.
pub(super) fn attribute_columns(
    cohort: &polars::prelude::DataFrame,
) -> Result<Vec<(String, Vec<String>)>, AnalyticsError> {
    let mut columns = Vec::new();
    for name in cohort.get_column_names() {
        if !name.starts_with(a::ATTRIBUTE_PREFIX) {
            continue;
        }
        let mut levels: Vec<String> = strings(cohort, name.as_str())?;
        levels.sort();
        levels.dedup();
        if levels.len() <= MAX_ATTRIBUTE_VALUES {
            columns.push((name.to_string(), levels));
        }
    }
    Ok(columns)
}
