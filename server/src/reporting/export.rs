//! The store as the log schema of docs/architecture.md (`blendlab export`): day-partitioned
//! Parquet that polars, DuckDB, Spark and Trino read as they are.
//!
//! Layout: `assignments.parquet` (rewritten each run), `messages/date=YYYY-MM-DD/part-0.parquet`
//! and `events/date=YYYY-MM-DD/part-0.parquet`. Incremental: a day before today is final and is
//! written once; today and later days are rewritten on every run, since they may still grow.
//! Every file is written to a temporary name and renamed, so a reader never sees half a file.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use blendlab_analytics::pipeline::DAY_MICROS;
use blendlab_analytics::report::{date_of_day, day_number};
use chrono::NaiveDate;
use polars::prelude::*;

use super::source::{assignments_frame, event_frame, message_frame};
use blendlab_store::Store;

/// What one run wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub days_written: Vec<NaiveDate>,
    pub days_skipped: usize,
    pub messages: usize,
    pub events: usize,
    pub assignments: usize,
}

pub async fn export(
    store: &Store,
    out: &Path,
    until: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<ExportSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut summary = ExportSummary::default();
    let (experiments, assignments) = store.all_assignment_columns().await?;
    summary.assignments = experiments.len();
    let mut frame = assignments_frame(experiments, assignments)?;
    write_atomically(&out.join("assignments.parquet"), &mut frame)?;

    let Some(first) = store.first_activity_micros().await? else {
        return Ok(summary);
    };
    for day in day_number(date_of_day(first.div_euclid(DAY_MICROS)))..=day_number(until) {
        let date = date_of_day(day);
        let messages_path = partition(out, "messages", date);
        let events_path = partition(out, "events", date);
        if date < today && messages_path.exists() && events_path.exists() {
            summary.days_skipped += 1;
            continue;
        }
        let (from, to) = (day * DAY_MICROS, (day + 1) * DAY_MICROS);
        let messages = store.messages_between(from, to).await?;
        let events = store.events_between(from, to).await?;
        summary.messages += messages.user_id.len();
        summary.events += events.user_id.len();
        write_atomically(&messages_path, &mut message_frame(messages)?)?;
        write_atomically(&events_path, &mut event_frame(events)?)?;
        summary.days_written.push(date);
    }
    Ok(summary)
}

fn partition(out: &Path, table: &str, date: NaiveDate) -> PathBuf {
    out.join(table)
        .join(format!("date={date}"))
        .join("part-0.parquet")
}

fn write_atomically(path: &Path, frame: &mut DataFrame) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .context("a partition has a parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temporary = path.with_extension("parquet.tmp");
    let file =
        File::create(&temporary).with_context(|| format!("creating {}", temporary.display()))?;
    anyhow::Context::with_context(ParquetWriter::new(file).finish(frame), || {
        format!("writing {}", temporary.display())
    })?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
