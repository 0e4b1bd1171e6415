use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use chrono::Utc;

use crate::{
    auth::Admin,
    error::ApiError,
    reporting::{leaderboard, StoreReportError},
    state::AppState,
};

/// `GET /api/v1/leaderboard`: every arm of every experiment against its control.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "reports", responses((status = 200, description = "every non-control arm against its control"), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody)))]
#[tracing::instrument(name = "leaderboard", skip_all)]
pub async fn show(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let board =
        leaderboard::leaderboard(&state.store, &state.live_reports, Utc::now().date_naive())
            .await
            .map_err(|error| match error {
                StoreReportError::Store(error) => ApiError::from(error),
                other => ApiError::unexpected(anyhow::Error::new(other)),
            })?;
    Ok(HttpResponse::Ok().json(board))
}
