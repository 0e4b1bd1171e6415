use anyhow::Context as _;
use blendlab_experiments::ExperimentDefinition;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{from_micros, to_micros, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentStatus {
    Draft,
    Running,
    Stopped,
}

impl ExperimentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Running => "running",
            Self::Stopped => "stopped",
        }
    }

    fn parse(raw: &str) -> anyhow::Result<Self> {
        Ok(match raw {
            "draft" => Self::Draft,
            "running" => Self::Running,
            "stopped" => Self::Stopped,
            other => anyhow::bail!("unknown experiment status {other:?} in the store"),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ExperimentRow {
    pub definition: ExperimentDefinition,
    pub status: ExperimentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "definition, status, created_at, updated_at, started_at, stopped_at";

/// The columns of [`COLUMNS`], as read from either database.
type Columns = (String, String, i64, i64, Option<i64>, Option<i64>);

fn row_to_experiment(row: Columns) -> anyhow::Result<ExperimentRow> {
    let (definition, status, created_at, updated_at, started_at, stopped_at) = row;
    Ok(ExperimentRow {
        definition: serde_json::from_str(&definition).context("stored experiment definition")?,
        status: ExperimentStatus::parse(&status)?,
        created_at: from_micros(created_at),
        updated_at: from_micros(updated_at),
        started_at: started_at.map(from_micros),
        stopped_at: stopped_at.map(from_micros),
    })
}

impl Store {
    #[tracing::instrument(skip(self, definition), fields(experiment = %definition.key))]
    pub async fn insert_experiment(
        &self,
        definition: &ExperimentDefinition,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(definition).context("serialising the definition")?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO experiments (key, definition, status, created_at, updated_at)
             VALUES ($1, $2, 'draft', $3, $3)",
        )
        .bind(&definition.key)
        .bind(&json)
        .bind(to_micros(now))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Replaces the definition if the status is still `expected_status`; false otherwise, so a
    /// concurrent `start` cannot slip a changed definition into a running experiment.
    pub async fn update_definition(
        &self,
        definition: &ExperimentDefinition,
        expected_status: ExperimentStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(definition).context("serialising the definition")?;
        let updated = on_pool!(self, pool => sqlx::query(
            "UPDATE experiments SET definition = $1, updated_at = $2 WHERE key = $3 AND status = $4",
        )
        .bind(&json)
        .bind(to_micros(now))
        .bind(&definition.key)
        .bind(expected_status.as_str())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }

    pub async fn experiment(&self, key: &str) -> Result<Option<ExperimentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM experiments WHERE key = $1");
        let row: Option<Columns> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(key).fetch_optional(pool).await?);
        Ok(row.map(row_to_experiment).transpose()?)
    }

    pub async fn experiments(&self) -> Result<Vec<ExperimentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM experiments ORDER BY created_at, key");
        let rows: Vec<Columns> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(row_to_experiment)
            .collect::<anyhow::Result<_>>()?)
    }

    /// draft -> running. Starting a running experiment changes nothing.
    pub async fn start_experiment(&self, key: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE experiments SET status = 'running', started_at = $1, updated_at = $1
             WHERE key = $2 AND status = 'draft'",
        )
        .bind(to_micros(now))
        .bind(key)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// running (or draft) -> stopped. Stopping a stopped experiment changes nothing.
    pub async fn stop_experiment(&self, key: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE experiments SET status = 'stopped', stopped_at = $1, updated_at = $1
             WHERE key = $2 AND status <> 'stopped'",
        )
        .bind(to_micros(now))
        .bind(key)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }
}
