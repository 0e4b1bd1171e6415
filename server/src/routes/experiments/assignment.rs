use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use blendlab_experiments::Experiment;
use serde_json::json;

use super::{load, parse_key};
use crate::{
    auth::Admin,
    chat::{assignment_for, validate_user_id},
    error::ApiError,
    state::AppState,
};

/// `{"arm": str|null, "exposed": bool}`: the user's arm (stored, or what the hash gives) and
/// whether a first exposure is stored. Reading records nothing.
#[utoipa::path(get, path = "/api/v1/experiments/{key}/assignment/{user_id}", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}"), ("user_id" = String, Path, description = "the user")), responses((status = 200, description = "`{\"arm\": str|null}`"), (status = 400, description = "invalid key or user id", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody)))]
#[tracing::instrument(name = "experiments.assignment", skip_all, fields(experiment = %path.0))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, user_id) = path.into_inner();
    let key = parse_key(&key)?;
    validate_user_id(&user_id).map_err(ApiError::from)?;
    let row = load(&state, &key).await?;
    // Structure only: assignment must answer even if a model was removed from the config.
    let experiment = Experiment::parse(row.definition.clone(), |_| true)
        .map_err(|e| ApiError::unexpected(anyhow::anyhow!("stored experiment is invalid: {e}")))?;
    let (arm, exposed) = assignment_for(&state.store, &experiment, &row, &user_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "arm": arm, "exposed": exposed })))
}
