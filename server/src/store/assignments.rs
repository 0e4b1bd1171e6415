use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{from_micros, to_micros, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    pub arm: String,
    pub assigned_at: DateTime<Utc>,
}

impl Store {
    /// Stores the first exposure of `user_id`; later and concurrent calls keep the first one.
    /// Returns true when this call stored it.
    #[tracing::instrument(skip(self, now))]
    pub async fn record_exposure(
        &self,
        experiment: &str,
        user_id: &str,
        arm: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO assignments (experiment, user_id, arm, assigned_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (experiment, user_id) DO NOTHING",
        )
        .bind(experiment)
        .bind(user_id)
        .bind(arm)
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn assignment(
        &self,
        experiment: &str,
        user_id: &str,
    ) -> Result<Option<AssignmentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT arm, assigned_at FROM assignments WHERE experiment = ? AND user_id = ?",
        )
        .bind(experiment)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AssignmentRow {
            arm: r.get("arm"),
            assigned_at: from_micros(r.get("assigned_at")),
        }))
    }

    pub async fn exposure_count(&self, experiment: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT arm, COUNT(*) AS n FROM assignments WHERE experiment = ? GROUP BY arm ORDER BY arm")
            .bind(experiment)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("arm"), r.get("n"))).collect())
    }

    /// First exposures per UTC day and arm, oldest day first: `(day, arm, users)`.
    #[tracing::instrument(skip(self))]
    pub async fn exposures_per_day(
        &self,
        experiment: &str,
    ) -> Result<Vec<(NaiveDate, String, i64)>, StoreError> {
        const DAY_MICROS: i64 = 86_400_000_000;
        let rows = sqlx::query(
            "SELECT assigned_at / ? AS day, arm, COUNT(*) AS n FROM assignments
             WHERE experiment = ? GROUP BY day, arm ORDER BY day, arm",
        )
        .bind(DAY_MICROS)
        .bind(experiment)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let day: i64 = r.get("day");
                let date = from_micros(day * DAY_MICROS).date_naive();
                (date, r.get("arm"), r.get("n"))
            })
            .collect())
    }
}
