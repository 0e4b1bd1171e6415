//! Adaptive blends, live. Each `thompson` arm serves a policy *snapshot*: one probability per
//! component, computed from the store's reward counts up to a cut-off. Snapshots are versioned by
//! the refresh interval (`server.policy_refresh_s`): version `v` counts what the store held at
//! `v x interval` seconds since the Unix epoch. The first replica to compute a version stores it
//! (insert if absent) and every other replica reads that row back, so all serve the same
//! probabilities for the same version, whatever each had in memory or saw committed late.
//!
//! A snapshot is computed on the first turn that needs it after its interval begins, once per
//! replica; until then the arm serves the version before. When the store cannot give the new
//! version the arm keeps serving the last one it has (its replies log that version), and an arm
//! that has none yet draws from the prior, uniform, logged as version `None`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use blendlab_experiments::{thompson_probabilities, Arm, ThompsonPolicy};
use blendlab_store::{PolicySnapshotRow, SnapshotModel, Store, StoreError};
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

/// The snapshots this replica serves, one per (experiment, arm).
pub struct AdaptivePolicies {
    interval_s: i64,
    served: std::sync::Mutex<HashMap<(String, String), Arc<PolicySnapshotRow>>>,
    /// One computation at a time, so a burst of turns at an interval's start makes one query.
    computing: Mutex<()>,
}

impl AdaptivePolicies {
    pub fn new(refresh: Duration) -> Self {
        Self {
            interval_s: refresh.as_secs().max(1) as i64,
            served: Default::default(),
            computing: Mutex::new(()),
        }
    }

    /// The version whose interval holds `now`.
    pub fn version_at(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(self.interval_s)
    }

    /// Version `version`'s cut-off: the start of its interval.
    pub fn cutoff_of(&self, version: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(version * self.interval_s, 0).unwrap_or_default()
    }

    /// The snapshot arm `arm` of `experiment` serves at `now`, computed or read back from the
    /// store when this replica has no snapshot of that version yet.
    pub async fn current(
        &self,
        store: &Store,
        experiment: &str,
        arm: &Arm,
        policy: &ThompsonPolicy,
        now: DateTime<Utc>,
    ) -> Result<Arc<PolicySnapshotRow>, StoreError> {
        let version = self.version_at(now);
        let key = key_of(experiment, arm);
        if let Some(snapshot) = self.served_at(&key, version) {
            return Ok(snapshot);
        }
        let _one_at_a_time = self.computing.lock().await;
        if let Some(snapshot) = self.served_at(&key, version) {
            return Ok(snapshot);
        }
        let cutoff = self.cutoff_of(version);
        let counts = store
            .reward_counts(
                experiment,
                arm.name.as_str(),
                &arm.models,
                policy.reward,
                cutoff,
            )
            .await?;
        let probabilities = thompson_probabilities(&counts, policy.min_probability);
        let computed = PolicySnapshotRow {
            experiment: experiment.to_owned(),
            arm: arm.name.to_string(),
            version,
            cutoff,
            computed_at: now,
            models: arm
                .models
                .iter()
                .zip(probabilities.iter().zip(&counts))
                .map(|(model, (probability, count))| SnapshotModel {
                    model: model.clone(),
                    probability: *probability,
                    successes: count.successes,
                    failures: count.failures,
                })
                .collect(),
        };
        let stored = Arc::new(store.settle_policy_snapshot(&computed).await?);
        tracing::info!(
            experiment,
            arm = %arm.name,
            version,
            probabilities = ?stored.models.iter().map(|m| m.probability).collect::<Vec<_>>(),
            "policy snapshot"
        );
        self.served
            .lock()
            .expect("not poisoned")
            .insert(key, stored.clone());
        Ok(stored)
    }

    /// The snapshot to draw from: the current one, or when the store cannot give it, the last
    /// one served (`None` when there is none: draw from the prior).
    pub async fn for_turn(
        &self,
        store: &Store,
        experiment: &str,
        arm: &Arm,
        policy: &ThompsonPolicy,
        now: DateTime<Utc>,
    ) -> Option<Arc<PolicySnapshotRow>> {
        match self.current(store, experiment, arm, policy, now).await {
            Ok(snapshot) => Some(snapshot),
            Err(error) => {
                tracing::warn!(%error, experiment, arm = %arm.name, "serving the last policy snapshot");
                self.last_served(&key_of(experiment, arm))
            }
        }
    }

    fn served_at(&self, key: &(String, String), version: i64) -> Option<Arc<PolicySnapshotRow>> {
        self.last_served(key).filter(|s| s.version == version)
    }

    fn last_served(&self, key: &(String, String)) -> Option<Arc<PolicySnapshotRow>> {
        self.served.lock().expect("not poisoned").get(key).cloned()
    }
}

/// Where a replica keeps an arm's snapshot: (experiment, arm).
fn key_of(experiment: &str, arm: &Arm) -> (String, String) {
    (experiment.to_owned(), arm.name.to_string())
}

/// The snapshot's probabilities in the arm's model order; `None` when they do not match the arm
/// (a snapshot of another definition), so the arm draws from its prior instead.
pub fn probabilities_for(arm: &Arm, snapshot: &PolicySnapshotRow) -> Option<Vec<f64>> {
    arm.models
        .iter()
        .map(|model| {
            snapshot
                .models
                .iter()
                .find(|m| &m.model == model)
                .map(|m| m.probability)
        })
        .collect()
}
