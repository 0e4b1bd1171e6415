use anyhow::Context as _;
use blendlab_experiments::ExperimentDefinition;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

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

fn row_to_experiment(row: &sqlx::sqlite::SqliteRow) -> anyhow::Result<ExperimentRow> {
    let definition: String = row.get("definition");
    Ok(ExperimentRow {
        definition: serde_json::from_str(&definition).context("stored experiment definition")?,
        status: ExperimentStatus::parse(row.get("status"))?,
        created_at: from_micros(row.get("created_at")),
        updated_at: from_micros(row.get("updated_at")),
        started_at: row.get::<Option<i64>, _>("started_at").map(from_micros),
        stopped_at: row.get::<Option<i64>, _>("stopped_at").map(from_micros),
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
        sqlx::query(
            "INSERT INTO experiments (key, definition, status, created_at, updated_at)
             VALUES (?, ?, 'draft', ?, ?)",
        )
        .bind(&definition.key)
        .bind(json)
        .bind(to_micros(now))
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
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
        let updated = sqlx::query(
            "UPDATE experiments SET definition = ?, updated_at = ? WHERE key = ? AND status = ?",
        )
        .bind(json)
        .bind(to_micros(now))
        .bind(&definition.key)
        .bind(expected_status.as_str())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn experiment(&self, key: &str) -> Result<Option<ExperimentRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM experiments WHERE key = ?"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(row_to_experiment).transpose()?)
    }

    pub async fn experiments(&self) -> Result<Vec<ExperimentRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM experiments ORDER BY created_at, key"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(row_to_experiment)
            .collect::<anyhow::Result<_>>()?)
    }

    /// draft -> running. Starting a running experiment changes nothing.
    pub async fn start_experiment(&self, key: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE experiments SET status = 'running', started_at = ?, updated_at = ?
             WHERE key = ? AND status = 'draft'",
        )
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// running (or draft) -> stopped. Stopping a stopped experiment changes nothing.
    pub async fn stop_experiment(&self, key: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE experiments SET status = 'stopped', stopped_at = ?, updated_at = ?
             WHERE key = ? AND status <> 'stopped'",
        )
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
