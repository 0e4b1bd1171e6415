//! Adaptive blends: the reward counts a policy snapshot is computed from, and the snapshots
//! themselves. A snapshot is a function of the store's rows up to its cut-off, and the first
//! replica to store a version fixes it for all the others.

use blendlab_experiments::{Reward, RewardCounts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_micros, to_micros, Store, StoreError};

/// A reply continues its conversation when the next message is the user's within this long
/// (the report's continuation outcome).
pub const CONTINUATION_WINDOW_S: i64 = 1800;

/// One component's line of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotModel {
    pub model: String,
    pub probability: f64,
    pub successes: u64,
    pub failures: u64,
}

/// The probabilities an adaptive arm serves for one version.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySnapshotRow {
    pub experiment: String,
    pub arm: String,
    pub version: i64,
    pub cutoff: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
    pub models: Vec<SnapshotModel>,
}

/// Six parameters a row, well under SQLite's 32,766 a statement.
const SNAPSHOTS_PER_STATEMENT: usize = 5_000;

type SnapshotColumns = (String, String, i64, i64, i64, String);

impl Store {
    /// Each of `models`' reward counts in (`experiment`, `arm`) from what the store knew at
    /// `cutoff`. Continuation: a reply counts 1 when the next message is the user's, sent within
    /// [`CONTINUATION_WINDOW_S`] and by the cut-off; 0 when not, once the window has passed by the
    /// cut-off (younger replies are still open and do not count). Feedback: a reply with a
    /// `feedback` event by the cut-off counts 1 when its best value is positive, else 0.
    #[tracing::instrument(skip(self, models))]
    pub async fn reward_counts(
        &self,
        experiment: &str,
        arm: &str,
        models: &[String],
        reward: Reward,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<RewardCounts>, StoreError> {
        const CONTINUATION: &str = "
            SELECT r.model,
                   SUM(CASE WHEN n.role = 'user' AND n.created_at <= $3
                             AND n.created_at - r.created_at <= $4 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN n.role = 'user' AND n.created_at <= $3
                             AND n.created_at - r.created_at <= $4 THEN 0
                            WHEN r.created_at <= $3 - $4 THEN 1 ELSE 0 END)
            FROM messages r
            LEFT JOIN messages n
                   ON n.conversation_id = r.conversation_id AND n.position = r.position + 1
            WHERE r.experiment = $1 AND r.arm = $2 AND r.role = 'assistant' AND r.created_at <= $3
            GROUP BY r.model";
        const FEEDBACK: &str = "
            SELECT r.model,
                   SUM(CASE WHEN f.best > 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN f.best > 0 THEN 0 ELSE 1 END)
            FROM messages r
            JOIN (SELECT message_id, MAX(value) AS best FROM events
                  WHERE kind = 'feedback' AND message_id IS NOT NULL AND created_at <= $3
                  GROUP BY message_id) f ON f.message_id = r.message_id
            WHERE r.experiment = $1 AND r.arm = $2 AND r.role = 'assistant' AND r.created_at <= $3
            GROUP BY r.model";
        let sql = match reward {
            Reward::Continuation => CONTINUATION,
            Reward::Feedback => FEEDBACK,
        };
        let window = (reward == Reward::Continuation).then_some(CONTINUATION_WINDOW_S * 1_000_000);
        let rows: Vec<(Option<String>, Option<i64>, Option<i64>)> = on_pool!(self, pool => {
            let query = sqlx::query_as(sql)
                .bind(experiment)
                .bind(arm)
                .bind(to_micros(cutoff));
            match window {
                Some(window) => query.bind(window),
                None => query,
            }
            .fetch_all(pool)
            .await?
        });
        Ok(models
            .iter()
            .map(|model| {
                let row = rows.iter().find(|r| r.0.as_deref() == Some(model.as_str()));
                RewardCounts {
                    successes: row.and_then(|r| r.1).unwrap_or(0).max(0) as u64,
                    failures: row.and_then(|r| r.2).unwrap_or(0).max(0) as u64,
                }
            })
            .collect())
    }

    /// Stores `snapshot` unless its version is stored already, and returns the stored one: the
    /// first replica to compute a version decides it for every replica.
    #[tracing::instrument(skip_all, fields(experiment = %snapshot.experiment, arm = %snapshot.arm, version = snapshot.version))]
    pub async fn settle_policy_snapshot(
        &self,
        snapshot: &PolicySnapshotRow,
    ) -> Result<PolicySnapshotRow, StoreError> {
        let models = serde_json::to_string(&snapshot.models)
            .map_err(|e| StoreError::Unexpected(e.into()))?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO policy_snapshots (experiment, arm, version, cutoff, computed_at, models)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (experiment, arm, version) DO NOTHING",
        )
        .bind(&snapshot.experiment)
        .bind(&snapshot.arm)
        .bind(snapshot.version)
        .bind(to_micros(snapshot.cutoff))
        .bind(to_micros(snapshot.computed_at))
        .bind(models)
        .execute(pool)
        .await
        .map(drop)?);
        let stored: SnapshotColumns = on_pool!(self, pool => sqlx::query_as(
            "SELECT experiment, arm, version, cutoff, computed_at, models FROM policy_snapshots
             WHERE experiment = $1 AND arm = $2 AND version = $3",
        )
        .bind(&snapshot.experiment)
        .bind(&snapshot.arm)
        .bind(snapshot.version)
        .fetch_one(pool)
        .await?);
        snapshot_from_row(stored)
    }

    /// Stores many snapshots at once (simulated history), in one transaction; a version stored
    /// already is kept, as by [`Store::settle_policy_snapshot`]. Returns how many were new.
    #[tracing::instrument(skip_all, fields(snapshots = snapshots.len()))]
    pub async fn insert_policy_snapshots(
        &self,
        snapshots: &[PolicySnapshotRow],
    ) -> Result<u64, StoreError> {
        let mut rows = Vec::with_capacity(snapshots.len());
        for snapshot in snapshots {
            let models = serde_json::to_string(&snapshot.models)
                .map_err(|e| StoreError::Unexpected(e.into()))?;
            rows.push((snapshot, models));
        }
        macro_rules! insert_all {
            ($pool:expr, $db:ty) => {{
                let mut tx = $pool.begin().await?;
                let mut inserted = 0;
                for chunk in rows.chunks(SNAPSHOTS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO policy_snapshots (experiment, arm, version, cutoff, computed_at, models) ",
                    );
                    query.push_values(chunk, |mut row, (snapshot, models)| {
                        row.push_bind(snapshot.experiment.as_str())
                            .push_bind(snapshot.arm.as_str())
                            .push_bind(snapshot.version)
                            .push_bind(to_micros(snapshot.cutoff))
                            .push_bind(to_micros(snapshot.computed_at))
                            .push_bind(models.as_str());
                    });
                    query.push(" ON CONFLICT (experiment, arm, version) DO NOTHING");
                    inserted += query.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                inserted
            }};
        }
        Ok(match &self.pool {
            crate::Pool::Sqlite(pool) => insert_all!(pool, sqlx::Sqlite),
            crate::Pool::Postgres(pool) => insert_all!(pool, sqlx::Postgres),
        })
    }

    /// Every stored snapshot of (`experiment`, `arm`), oldest first.
    pub async fn policy_snapshots(
        &self,
        experiment: &str,
        arm: &str,
    ) -> Result<Vec<PolicySnapshotRow>, StoreError> {
        let rows: Vec<SnapshotColumns> = on_pool!(self, pool => sqlx::query_as(
            "SELECT experiment, arm, version, cutoff, computed_at, models FROM policy_snapshots
             WHERE experiment = $1 AND arm = $2 ORDER BY version",
        )
        .bind(experiment)
        .bind(arm)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(snapshot_from_row).collect()
    }
}

fn snapshot_from_row(
    (experiment, arm, version, cutoff, computed_at, models): SnapshotColumns,
) -> Result<PolicySnapshotRow, StoreError> {
    Ok(PolicySnapshotRow {
        experiment,
        arm,
        version,
        cutoff: from_micros(cutoff),
        computed_at: from_micros(computed_at),
        models: serde_json::from_str(&models).map_err(|e| {
            StoreError::Unexpected(anyhow::anyhow!("stored policy snapshot models: {e}"))
        })?,
    })
}
