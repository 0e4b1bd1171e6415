use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "the process answers")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: a write to the store commits (the models were loaded before the listener opened),
/// and the server is not shutting down. Unready answers say why.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses((status = 200, description = "the store takes writes"), (status = 503, description = "the store cannot take writes, or the server is draining")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.lifecycle.is_draining() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "shutting down", "reason": "the server is draining" }));
    }
    match state.store.probe(chrono::Utc::now()).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "store is not ready");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "store unavailable", "reason": error.to_string() }))
        }
    }
}
