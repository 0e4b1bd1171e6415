//! Incremental daily runs. A report as of day T needs, from each day D of the window, only a
//! small part: per user-day counts and time spent, per-arm sums, counts of each reply latency,
//! the day's conversations, the turn cells of blend attribution (each reply's context continued
//! from its conversation's tail on earlier days) and those tails. A day before
//! T is final once its next day is over too (a reply before midnight may be continued after
//! it), so its part is computed once, kept in a [`PartStore`], and read back by every later
//! report. A daily run therefore reads the messages of about three days (the day it keeps, the
//! next day for continuations, and `as_of`), plus the kept parts and the assignments, whatever
//! the window's length.
//!
//! The report is the one-pass report: `tests/incremental.rs` checks it field by field, day after
//! day, and the store conformance suite checks the store's incremental report against the
//! one-pass report of its export.

mod combine;
mod part;
mod state;

pub use part::DayPart;
pub use state::{PartKey, PartStore, PartsInMemory, StateDir};

use chrono::NaiveDate;

use crate::collect::shared::engine;
use crate::pipeline;
use crate::report::{build, day_number, prepare, Report, ReportRequest};
use crate::timing::timed;
use crate::{AnalyticsError, LogFrames};

/// How much of the window a run read from the log, and how much from kept parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IncrementalRun {
    /// Days whose part was read from the part store.
    pub days_reused: u32,
    /// Days whose part was computed from the log and kept.
    pub days_kept: u32,
    /// Days computed from the log and not kept: `as_of` itself, and days whose next day is not
    /// over yet (a reply before midnight may still be continued after it).
    pub days_provisional: u32,
}

/// The report of `request`, from kept day parts where there are some. It keeps the part of each
/// day it computes whose next day is final: on or before `final_through`, the last day whose
/// messages are all in the log (yesterday, for a live store).
pub fn compute_report_incremental(
    frames: &LogFrames,
    request: &ReportRequest,
    state: &dyn PartStore,
    final_through: NaiveDate,
) -> Result<(Report, IncrementalRun), AnalyticsError> {
    let (start_date, horizon) = timed("prepare", || prepare(frames, request))?;
    let cohorts = timed("cohorts", || {
        pipeline::cohorts(frames.assignments.clone(), &request.experiment, horizon)
            .collect_with_engine(engine())
    })?
    .unwrap_single();
    let key = PartKey::of(frames, request);
    let last_final_day = day_number(final_through);
    let mut run = IncrementalRun::default();
    let mut parts: Vec<DayPart> = Vec::new();
    for day in day_number(start_date)..=horizon.as_of_day {
        let keep = day < horizon.as_of_day && day < last_final_day;
        if keep {
            if let Some(part) = timed("read_part", || state.read(&key, day))? {
                run.days_reused += 1;
                parts.push(part);
                continue;
            }
        }
        let next_day_counts = day < horizon.as_of_day;
        let mut part = timed("compute_part", || {
            part::compute(
                frames,
                &cohorts,
                request.window_days,
                day,
                next_day_counts,
                &parts,
            )
        })?;
        if keep {
            state.write(&key, day, &mut part)?;
            run.days_kept += 1;
        } else {
            run.days_provisional += 1;
        }
        parts.push(part);
    }
    let collected = timed("combine", || {
        combine::collected(
            frames,
            &request.experiment,
            cohorts,
            &parts,
            request.arms.as_deref(),
            crate::collect::GuardrailInputs::of(&request.decision, frames),
        )
    })?;
    let report = timed("assemble", || {
        build::assemble(request, start_date, horizon, collected)
    })?;
    Ok((report, run))
}

/// The first day from `first_day` on that `kept` lacks: the log must be read from there.
pub fn first_day_to_read(kept: &std::collections::BTreeMap<i64, Vec<u8>>, first_day: i64) -> i64 {
    (first_day..)
        .find(|day| !kept.contains_key(day))
        .expect("a finite map misses some day")
}
