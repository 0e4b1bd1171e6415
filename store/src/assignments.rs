use super::{from_micros, to_micros, Store, StoreError};
use blendlab_experiments::UserAttributes;
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    pub arm: String,
    pub assigned_at: DateTime<Utc>,
    /// As given with the first exposure.
    pub attributes: UserAttributes,
}

/// The stored form of attributes: a JSON object, NULL when there are none.
pub(crate) fn attributes_json(attributes: &UserAttributes) -> Option<String> {
    (!attributes.is_empty())
        .then(|| serde_json::to_string(attributes).expect("a map of strings serializes"))
}

/// Reads back what [`attributes_json`] wrote; a row written by hand that is not such an object
/// reads as no attributes rather than failing every report.
pub fn parse_attributes_json(stored: Option<&str>) -> UserAttributes {
    stored
        .and_then(|text| serde_json::from_str(text).ok())
        .and_then(|map| UserAttributes::parse(map).ok())
        .unwrap_or_default()
}

impl Store {
    /// Stores the first exposure of `user_id` with its attributes; later and concurrent calls keep
    /// the first one, attributes included. Returns true when this call stored it.
    #[tracing::instrument(skip(self, attributes, now))]
    pub async fn record_exposure(
        &self,
        experiment: &str,
        user_id: &str,
        arm: &str,
        attributes: &UserAttributes,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = on_pool!(self, pool => sqlx::query(
            "INSERT INTO assignments (experiment, user_id, arm, assigned_at, attributes)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (experiment, user_id) DO NOTHING",
        )
        .bind(experiment)
        .bind(user_id)
        .bind(arm)
        .bind(to_micros(now))
        .bind(attributes_json(attributes))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(inserted == 1)
    }

    pub async fn assignment(
        &self,
        experiment: &str,
        user_id: &str,
    ) -> Result<Option<AssignmentRow>, StoreError> {
        let row: Option<(String, i64, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT arm, assigned_at, attributes FROM assignments
             WHERE experiment = $1 AND user_id = $2",
        )
        .bind(experiment)
        .bind(user_id)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|(arm, assigned_at, attributes)| AssignmentRow {
            arm,
            assigned_at: from_micros(assigned_at),
            attributes: parse_attributes_json(attributes.as_deref()),
        }))
    }

    pub async fn exposure_count(&self, experiment: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT arm, COUNT(*) AS n FROM assignments WHERE experiment = $1 GROUP BY arm ORDER BY arm",
        )
        .bind(experiment)
        .fetch_all(pool)
        .await?))
    }

    /// Users exposed to `experiment` so far (erased users included, under their new ids).
    pub async fn exposed_users(&self, experiment: &str) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM assignments WHERE experiment = $1",
        )
        .bind(experiment)
        .fetch_one(pool)
        .await?))
    }

    /// First exposures per UTC day and arm, oldest day first: `(day, arm, users)`.
    #[tracing::instrument(skip(self))]
    pub async fn exposures_per_day(
        &self,
        experiment: &str,
    ) -> Result<Vec<(NaiveDate, String, i64)>, StoreError> {
        const DAY_MICROS: i64 = 86_400_000_000;
        let rows: Vec<(i64, String, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT assigned_at / $1 AS day, arm, COUNT(*) AS n FROM assignments
             WHERE experiment = $2 GROUP BY day, arm ORDER BY day, arm",
        )
        .bind(DAY_MICROS)
        .bind(experiment)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(day, arm, users)| (from_micros(day * DAY_MICROS).date_naive(), arm, users))
            .collect())
    }
}
