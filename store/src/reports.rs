use chrono::{DateTime, NaiveDate, Utc};

use super::{from_micros, to_micros, Store, StoreError};

/// A stored daily report.
#[derive(Debug, Clone)]
pub struct StoredReport {
    pub as_of: NaiveDate,
    pub report: serde_json::Value,
    pub computed_at: DateTime<Utc>,
}

impl Store {
    /// Stores (or replaces) the report of `experiment` as of `as_of`.
    #[tracing::instrument(skip(self, report))]
    pub async fn save_report(
        &self,
        experiment: &str,
        as_of: NaiveDate,
        report: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO reports (experiment, as_of, report, computed_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (experiment, as_of) DO UPDATE SET report = excluded.report, computed_at = excluded.computed_at",
        )
        .bind(experiment)
        .bind(as_of.to_string())
        .bind(report.to_string())
        .bind(to_micros(now))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The stored reports of `experiment`, oldest first.
    pub async fn reports(&self, experiment: &str) -> Result<Vec<StoredReport>, StoreError> {
        self.fetch_reports(experiment, None).await
    }

    async fn fetch_reports(
        &self,
        experiment: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let rows: Vec<ReportColumns> = on_pool!(self, pool => sqlx::query_as(
            "SELECT as_of, report, computed_at FROM reports
             WHERE experiment = $1 AND (CAST($2 AS TEXT) IS NULL OR as_of = CAST($2 AS TEXT)) ORDER BY as_of",
        )
        .bind(experiment)
        .bind(as_of.map(|d| d.to_string()))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(stored_report_from_row).collect()
    }

    /// The most recent stored report of `experiment`.
    pub async fn latest_report(
        &self,
        experiment: &str,
    ) -> Result<Option<StoredReport>, StoreError> {
        let row: Option<ReportColumns> = on_pool!(self, pool => sqlx::query_as(
            "SELECT as_of, report, computed_at FROM reports WHERE experiment = $1
             ORDER BY as_of DESC LIMIT 1",
        )
        .bind(experiment)
        .fetch_optional(pool)
        .await?);
        row.map(stored_report_from_row).transpose()
    }

    /// The days that already have a stored report, oldest first.
    pub async fn report_days(&self, experiment: &str) -> Result<Vec<NaiveDate>, StoreError> {
        let days: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT as_of FROM reports WHERE experiment = $1 ORDER BY as_of",
        )
        .bind(experiment)
        .fetch_all(pool)
        .await?);
        days.iter()
            .map(|d| {
                d.parse()
                    .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("stored as_of {d:?}: {e}")))
            })
            .collect()
    }

    /// One stored report.
    pub async fn stored_report(
        &self,
        experiment: &str,
        as_of: NaiveDate,
    ) -> Result<Option<StoredReport>, StoreError> {
        Ok(self.fetch_reports(experiment, Some(as_of)).await?.pop())
    }
}

/// `(as_of, report, computed_at)` as stored.
type ReportColumns = (String, String, i64);

fn stored_report_from_row(row: ReportColumns) -> Result<StoredReport, StoreError> {
    let (as_of, report, computed_at) = row;
    Ok(StoredReport {
        as_of: as_of
            .parse()
            .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("stored as_of {as_of:?}: {e}")))?,
        report: serde_json::from_str(&report).map_err(|e| StoreError::Unexpected(e.into()))?,
        computed_at: from_micros(computed_at),
    })
}
