//! The incremental report's day parts (`report_parts`), kept as opaque Parquet bytes.

use std::collections::BTreeMap;

use super::{Store, StoreError};

impl Store {
    /// The kept parts of one series of `experiment`, by day number.
    #[tracing::instrument(skip(self))]
    pub async fn report_parts(
        &self,
        experiment: &str,
        series: &str,
    ) -> Result<BTreeMap<i64, Vec<u8>>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT day, part FROM report_parts WHERE experiment = $1 AND series = $2",
        )
        .bind(experiment)
        .bind(series)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().collect())
    }

    /// Keeps parts; a day kept already (by another replica, say) keeps its part, which is the same.
    #[tracing::instrument(skip(self, parts), fields(parts = parts.len()))]
    pub async fn keep_report_parts(
        &self,
        experiment: &str,
        series: &str,
        parts: Vec<(i64, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (day, part) in parts {
                sqlx::query(
                    "INSERT INTO report_parts (experiment, series, day, part) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (experiment, series, day) DO NOTHING",
                )
                .bind(experiment)
                .bind(series)
                .bind(day)
                .bind(part)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets the kept parts of `experiment`, or of every experiment: the log they summarise
    /// changed in the past (a user erased, simulated history seeded).
    #[tracing::instrument(skip(self))]
    pub async fn forget_report_parts(&self, experiment: Option<&str>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "DELETE FROM report_parts WHERE CAST($1 AS TEXT) IS NULL OR experiment = $1",
        )
        .bind(experiment)
        .execute(pool)
        .await?
        .rows_affected()))
    }
}
