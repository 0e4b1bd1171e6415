//! `GET /metrics`, and the middleware that counts and times every request for it.

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web, HttpMessage, HttpResponse,
};

use crate::state::AppState;

/// Middleware: counts and times every request by its route pattern (not its path, so ids do not
/// explode the label set), and returns the request id the logs carry as `x-request-id`.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let request_id = request
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let mut response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = state {
        let status = response.status().as_u16();
        state
            .metrics
            .record_request(&route, &method, status, started.elapsed());
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text format 0.0.4")))]
#[tracing::instrument(name = "api.metrics", skip_all)]
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    let capacity = state.settings.max_concurrent_chats;
    let admitted = capacity.saturating_sub(state.chat_permits.available_permits());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.exposition(&state.models, capacity, admitted))
}
