//! The daily report: after each UTC midnight, `serve` computes yesterday's report of every
//! running experiment and stores it; days missed while the server was down are filled in.

use std::time::Duration;

use anyhow::Context as _;
use blendlab_analytics::AnalyticsError;
use chrono::{DateTime, NaiveDate, Utc};

use super::source::{report_from_store, StoreReportError};
use blendlab_store::{ExperimentStatus, Store};

/// Minutes after midnight UTC at which the day's run starts, leaving in-flight replies of the
/// previous day time to land.
const AFTER_MIDNIGHT: Duration = Duration::from_secs(5 * 60);

/// Computes and stores the report of `key` for every day from its first exposure through `until`
/// that has none yet. Returns the days computed.
pub async fn backfill(
    store: &Store,
    key: &str,
    until: NaiveDate,
) -> Result<Vec<NaiveDate>, StoreReportError> {
    let Some(first) = first_exposure_day(store, key).await? else {
        return Ok(Vec::new());
    };
    let done = store.report_days(key).await?;
    let mut computed = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= until) {
        if done.contains(&day) {
            continue;
        }
        compute_and_store(store, key, day).await?;
        computed.push(day);
    }
    Ok(computed)
}

pub async fn compute_and_store(
    store: &Store,
    key: &str,
    as_of: NaiveDate,
) -> Result<(), StoreReportError> {
    let report = report_from_store(store, key, as_of).await?;
    let json = serde_json::to_value(&report).context("serializing the report")?;
    store.save_report(key, as_of, &json, Utc::now()).await?;
    Ok(())
}

async fn first_exposure_day(
    store: &Store,
    key: &str,
) -> Result<Option<NaiveDate>, StoreReportError> {
    Ok(store
        .first_exposure_micros(key)
        .await?
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.date_naive()))
}

/// One pass of the job: every running experiment gets its reports through yesterday (the last
/// complete UTC day). Returns (experiment, days computed).
pub async fn catch_up(
    store: &Store,
    today: NaiveDate,
) -> anyhow::Result<Vec<(String, Vec<NaiveDate>)>> {
    let yesterday = today
        .pred_opt()
        .context("a date before the calendar's start")?;
    let mut done = Vec::new();
    for row in store.experiments().await? {
        if row.status != ExperimentStatus::Running {
            continue;
        }
        let key = row.definition.key.clone();
        match backfill(store, &key, yesterday).await {
            Ok(days) => done.push((key, days)),
            // An experiment without exposures yet has nothing to report.
            Err(StoreReportError::Analytics(AnalyticsError::UnknownExperiment(_))) => {}
            Err(error) => tracing::error!(experiment = %key, error = %error, "daily report failed"),
        }
    }
    Ok(done)
}

/// The advisory lock that makes one replica, not all, run a day's pass ("blendlab" in ASCII).
pub const DAILY_JOB_LOCK: i64 = 0x626c_656e_646c_6162;

/// [`catch_up`], run by one replica at a time: `None` when another replica is running it. That
/// one stores every report, so this one has nothing left to do.
pub async fn catch_up_once_across_replicas(
    store: &Store,
    today: NaiveDate,
) -> anyhow::Result<Option<Vec<(String, Vec<NaiveDate>)>>> {
    store
        .exclusively(DAILY_JOB_LOCK, catch_up(store, today))
        .await?
        .transpose()
}

/// Runs forever: a catch-up now, then one after every UTC midnight.
pub async fn run(store: Store) {
    loop {
        match catch_up_once_across_replicas(&store, Utc::now().date_naive()).await {
            Ok(None) => tracing::info!("another replica is computing the daily reports"),
            Ok(Some(done)) => {
                for (experiment, days) in done.iter().filter(|(_, d)| !d.is_empty()) {
                    tracing::info!(%experiment, days = days.len(), "daily reports stored");
                }
            }
            Err(error) => tracing::error!(error = %error, "daily report pass failed"),
        }
        tokio::time::sleep(until_next_run(Utc::now())).await;
    }
}

fn until_next_run(now: DateTime<Utc>) -> Duration {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let next = tomorrow
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (next - now).to_std().unwrap_or_default() + AFTER_MIDNIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_is_just_after_the_coming_midnight() {
        let now = "2026-11-25T23:50:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            until_next_run(now),
            Duration::from_secs(10 * 60) + AFTER_MIDNIGHT
        );
    }
}
