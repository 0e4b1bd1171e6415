//! `DELETE /api/v1/users/{user_id}`: a data-rights erasure (docs/data-rights.md).

use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};

use crate::{auth::Admin, chat::validate_user_id, error::ApiError, state::AppState};

#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "admin", params(("user_id" = String, Path, description = "the user to erase")), responses((status = 200, description = "what was erased"), (status = 400, description = "invalid user id", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "nothing stored of this user", body = ApiErrorBody)))]
#[tracing::instrument(name = "api.delete_user", skip_all)]
pub async fn delete_user(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    validate_user_id(&path).map_err(ApiError::from)?;
    let deleted = state.store.delete_user(&path).await?;
    if !deleted.found {
        return Err(ApiError::not_found(
            "user_not_found",
            "the store holds nothing of this user",
        ));
    }
    tracing::info!(
        messages = deleted.messages,
        conversations = deleted.conversations,
        events = deleted.events,
        exposures_anonymised = deleted.exposures_anonymised,
        "user erased"
    );
    Ok(HttpResponse::Ok().json(deleted))
}
