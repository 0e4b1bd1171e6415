//! `GET /api/v1/experiments/{key}/policy[?history=true]`: each blended arm's per-turn policy as
//! served now (for adaptive arms, the current snapshot and its version), and with `history` the
//! stored snapshots over time.

use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use blendlab_experiments::{Arm, BlendPolicy, Experiment};
use blendlab_store::PolicySnapshotRow;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load, parse_key};
use crate::{auth::Admin, error::ApiError, state::AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    /// `true` also lists the stored snapshots of each adaptive arm, oldest first: all of them, or
    /// `HISTORY_POINTS` evenly spaced.
    // Documented as text ("true" or "false", as it travels): schemathesis' generator trips over
    // boolean query parameters on this CPython (an AST recursion SystemError in hypothesis).
    #[serde(default)]
    #[param(value_type = Option<String>, example = "true")]
    history: bool,
}

#[utoipa::path(get, path = "/api/v1/experiments/{key}/policy", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}"), PolicyQuery), responses((status = 200, description = "`{experiment, arms: [{arm, policy, version, computed_at, models: [{model, probability}]}]}`"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody), (status = 503, description = "the store is unavailable", body = ApiErrorBody)))]
#[tracing::instrument(name = "experiments.policy", skip_all, fields(experiment = %key))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<PolicyQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&key)?;
    let row = load(&state, &key).await?;
    let experiment = Experiment::parse(row.definition.clone(), |_| true)
        .map_err(|e| ApiError::unexpected(anyhow::anyhow!("stored experiment is invalid: {e}")))?;
    let mut arms = Vec::new();
    for arm in experiment.arms().iter().filter(|a| a.models.len() > 1) {
        arms.push(arm_policy(&state, &experiment, arm, query.history).await?);
    }
    Ok(HttpResponse::Ok().json(json!({ "experiment": key.as_str(), "arms": arms })))
}

async fn arm_policy(
    state: &AppState,
    experiment: &Experiment,
    arm: &Arm,
    history: bool,
) -> Result<Value, ApiError> {
    let fixed = |probabilities: Vec<f64>| {
        let models: Vec<Value> = arm
            .models
            .iter()
            .zip(probabilities)
            .map(|(model, probability)| json!({ "model": model, "probability": probability }))
            .collect();
        json!({ "arm": arm.name.as_str(), "policy": arm.policy.name(), "version": null,
                "computed_at": null, "models": models })
    };
    let policy = match &arm.policy {
        BlendPolicy::Uniform => {
            return Ok(fixed(vec![1.0 / arm.models.len() as f64; arm.models.len()]))
        }
        BlendPolicy::Weighted(weights) => return Ok(fixed(weights.clone())),
        BlendPolicy::Thompson(policy) => policy,
    };
    let key = experiment.key().as_str();
    let current = state
        .policies
        .current(&state.store, key, arm, policy, Utc::now())
        .await?;
    let mut view = snapshot_view(&current);
    view["arm"] = json!(arm.name.as_str());
    view["policy"] = json!("thompson");
    view["reward"] = json!(policy.reward.as_str());
    view["min_probability"] = json!(policy.min_probability);
    if history {
        let stored = state.store.policy_snapshots(key, arm.name.as_str()).await?;
        view["history"] = evenly_spaced(&stored, HISTORY_POINTS)
            .map(snapshot_view)
            .collect();
    }
    Ok(view)
}

/// Snapshots a history lists at most: a year of hourly versions would be 8,760, a simulated
/// month refreshed every minute tens of thousands; a chart needs far fewer.
const HISTORY_POINTS: usize = 1_000;

/// At most `points` of `items` (at least 2), evenly spaced, the first and the last included.
fn evenly_spaced<T>(items: &[T], points: usize) -> impl Iterator<Item = &T> {
    let points = points.max(2);
    let step = if items.len() <= points {
        1.0
    } else {
        (items.len() - 1) as f64 / (points - 1) as f64
    };
    let count = items.len().min(points);
    (0..count).map(move |i| &items[((i as f64 * step).round() as usize).min(items.len() - 1)])
}

fn snapshot_view(snapshot: &PolicySnapshotRow) -> Value {
    json!({
        "version": snapshot.version,
        "computed_at": snapshot.computed_at,
        "cutoff": snapshot.cutoff,
        "models": snapshot.models,
    })
}

#[cfg(test)]
mod tests {
    use super::evenly_spaced;

    #[test]
    fn a_long_history_is_thinned_evenly_keeping_both_ends() {
        let versions: Vec<u32> = (0..10_001).collect();
        let kept: Vec<u32> = evenly_spaced(&versions, 1_000).copied().collect();
        assert_eq!(kept.len(), 1_000);
        assert_eq!((kept[0], kept[999]), (0, 10_000));
        assert!(kept.windows(2).all(|w| (10..=11).contains(&(w[1] - w[0]))));
        let short: Vec<u32> = evenly_spaced(&versions[..5], 1_000).copied().collect();
        assert_eq!(short, [0, 1, 2, 3, 4]);
        assert_eq!(evenly_spaced(&versions[..0], 1_000).count(), 0);
    }
}
