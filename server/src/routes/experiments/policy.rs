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
    /// `true` also lists every stored snapshot of each adaptive arm, oldest first.
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
        view["history"] = stored.iter().map(snapshot_view).collect();
    }
    Ok(view)
}

fn snapshot_view(snapshot: &PolicySnapshotRow) -> Value {
    json!({
        "version": snapshot.version,
        "computed_at": snapshot.computed_at,
        "cutoff": snapshot.cutoff,
        "models": snapshot.models,
    })
}
