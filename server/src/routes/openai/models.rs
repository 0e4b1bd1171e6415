use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::{auth::Caller, error::OpenAiError, state::AppState};
use blendlab_store::ExperimentStatus;

/// `GET /v1/models`: every model id, and every running experiment (its key is a valid `model`).
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "models and running experiments"), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody)))]
#[tracing::instrument(name = "openai.models", skip_all)]
pub async fn list_models(
    _: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OpenAiError> {
    let mut data: Vec<_> = state
        .models
        .models()
        .map(|m| json!({ "id": m.id(), "object": "model", "created": 0, "owned_by": "blendlab" }))
        .collect();
    let experiments = state
        .store
        .experiments()
        .await
        .map_err(crate::error::ApiError::from)?;
    data.extend(
        experiments
            .into_iter()
            .filter(|e| e.status == ExperimentStatus::Running)
            .map(|e| {
                json!({
                    "id": e.definition.key,
                    "object": "model",
                    "created": e.created_at.timestamp(),
                    "owned_by": "blendlab-experiment",
                })
            }),
    );
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data })))
}
