use crate::body::JsonBody;
use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use blendlab_experiments::ExperimentDefinition;
use chrono::Utc;

use super::{load, parse_key, validate, ExperimentView};
use crate::{auth::Admin, error::ApiError, state::AppState};
use blendlab_store::{ExperimentStatus, StoreError};

#[tracing::instrument(name = "experiments.list", skip_all)]
#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", responses((status = 200, description = "every experiment"), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody)))]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.experiments().await?;
    let views: Vec<ExperimentView> = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "experiments": views })))
}

#[tracing::instrument(name = "experiments.create", skip_all, fields(experiment = %body.key))]
#[utoipa::path(post, path = "/api/v1/experiments", tag = "experiments", request_body = ExperimentDefinition, responses((status = 201, description = "created as a draft"), (status = 400, description = "invalid definition, naming every problem", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 409, description = "the key is taken", body = ApiErrorBody)))]
pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: JsonBody<ExperimentDefinition>,
) -> Result<HttpResponse, ApiError> {
    let experiment = validate(&state, body.into_inner())?;
    match state
        .store
        .insert_experiment(experiment.definition(), Utc::now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "experiment_exists",
                format!(
                    "experiment {:?} already exists; use PUT to change a draft",
                    experiment.key().as_str()
                ),
            ))
        }
        Err(other) => return Err(other.into()),
    }
    let row = load(&state, experiment.key()).await?;
    Ok(HttpResponse::Created().json(ExperimentView::from(row)))
}

#[tracing::instrument(name = "experiments.show", skip_all, fields(experiment = %path))]
#[utoipa::path(get, path = "/api/v1/experiments/{key}", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "the experiment"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody)))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    Ok(HttpResponse::Ok().json(ExperimentView::from(load(&state, &key).await?)))
}

/// Replaces a definition. A draft may change freely; once running, only `name` and `window_days`
/// may, because arms, weights, salt and coverage decide who is in which arm.
#[tracing::instrument(name = "experiments.replace", skip_all, fields(experiment = %path))]
#[utoipa::path(put, path = "/api/v1/experiments/{key}", tag = "experiments", request_body = ExperimentDefinition, params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "replaced"), (status = 400, description = "invalid key or definition", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody), (status = 409, description = "not a draft", body = ApiErrorBody)))]
pub async fn replace(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<ExperimentDefinition>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    if body.key != key.as_str() {
        return Err(ApiError::bad_request(
            "key_mismatch",
            format!(
                "the body's key {:?} differs from the URL's {:?}",
                body.key,
                key.as_str()
            ),
        ));
    }
    let current = load(&state, &key).await?;
    let experiment = validate(&state, body.into_inner())?;
    if current.status != ExperimentStatus::Draft
        && !only_cosmetic_changes(&current.definition, experiment.definition())
    {
        return Err(ApiError::conflict(
            "experiment_not_draft",
            format!(
                "experiment {:?} is {}: its arms, weights, salt, coverage, control and audience cannot change",
                key.as_str(),
                current.status.as_str()
            ),
        ));
    }
    let updated = state
        .store
        .update_definition(experiment.definition(), current.status, Utc::now())
        .await?;
    if !updated {
        return Err(ApiError::conflict(
            "concurrent_change",
            "the experiment changed meanwhile; retry",
        ));
    }
    Ok(HttpResponse::Ok().json(ExperimentView::from(load(&state, &key).await?)))
}

fn only_cosmetic_changes(before: &ExperimentDefinition, after: &ExperimentDefinition) -> bool {
    let mut normalised = after.clone();
    normalised.name.clone_from(&before.name);
    normalised.window_days = before.window_days;
    &normalised == before
}
