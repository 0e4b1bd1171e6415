use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "the process answers")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the store answers too (the models were loaded before the listener opened).
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses((status = 200, description = "the store answers too")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "store is not ready");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "store unavailable" }))
        }
    }
}
