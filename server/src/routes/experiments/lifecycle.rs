use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use chrono::Utc;

use super::{load, parse_key, validate, ExperimentView};
use crate::{auth::Admin, error::ApiError, state::AppState};
use blendlab_store::ExperimentStatus;

/// draft -> running. On a running experiment it is a no-op (200); a stopped one cannot restart,
/// since its users' exposures already ended.
#[tracing::instrument(name = "experiments.start", skip_all, fields(experiment = %path))]
#[utoipa::path(post, path = "/api/v1/experiments/{key}/start", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "running"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody), (status = 409, description = "already stopped", body = ApiErrorBody)))]
pub async fn start(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    let row = load(&state, &key).await?;
    match row.status {
        ExperimentStatus::Stopped => {
            return Err(ApiError::conflict(
                "experiment_stopped",
                format!(
                    "experiment {:?} is stopped and cannot restart; create a new one",
                    key.as_str()
                ),
            ))
        }
        ExperimentStatus::Running => {}
        ExperimentStatus::Draft => {
            // The models may have changed since the draft was written.
            validate(&state, row.definition.clone())?;
            state
                .store
                .start_experiment(key.as_str(), Utc::now())
                .await?;
        }
    }
    Ok(HttpResponse::Ok().json(ExperimentView::from(load(&state, &key).await?)))
}

/// Stops traffic: chat for a stopped experiment gets 409. Stopping twice is a no-op.
#[tracing::instrument(name = "experiments.stop", skip_all, fields(experiment = %path))]
#[utoipa::path(post, path = "/api/v1/experiments/{key}/stop", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "stopped"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody), (status = 409, description = "not running", body = ApiErrorBody)))]
pub async fn stop(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    load(&state, &key).await?;
    state
        .store
        .stop_experiment(key.as_str(), Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(ExperimentView::from(load(&state, &key).await?)))
}
