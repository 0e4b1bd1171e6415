use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde_json::json;

use super::{load, parse_key};
use crate::{auth::Admin, error::ApiError, state::AppState};

/// The stored daily reports: `{"reports": [{"as_of", "computed_at", "srm", "arms": [{arm, users}]}]}`,
/// oldest first. The full report of a day is at `.../reports/{as_of}`.
#[tracing::instrument(name = "experiments.reports", skip_all, fields(experiment = %path))]
#[utoipa::path(get, path = "/api/v1/experiments/{key}/reports", tag = "reports", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "the stored daily reports, oldest first"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody)))]
pub async fn list(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    load(&state, &key).await?;
    let reports = state.store.reports(key.as_str()).await?;
    let summaries: Vec<_> = reports
        .iter()
        .map(|stored| {
            let arms: Vec<_> = stored.report["arms"]
                .as_array()
                .map(|arms| arms.iter().map(|a| json!({ "arm": a["arm"], "users": a["users"] })).collect())
                .unwrap_or_default();
            json!({ "as_of": stored.as_of, "computed_at": stored.computed_at, "srm": stored.report["srm"], "arms": arms })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "experiment": key.as_str(), "reports": summaries })))
}

/// One stored daily report, as it was computed.
#[tracing::instrument(name = "experiments.stored_report", skip_all, fields(experiment = %path.0))]
#[utoipa::path(get, path = "/api/v1/experiments/{key}/reports/{as_of}", tag = "reports", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}"), ("as_of" = chrono::NaiveDate, Path, description = "the report's UTC day")), responses((status = 200, description = "one stored daily report"), (status = 400, description = "invalid key or date", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment or report", body = ApiErrorBody)))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, NaiveDate)>,
) -> Result<HttpResponse, ApiError> {
    let (key, as_of) = path.into_inner();
    let key = parse_key(&key)?;
    load(&state, &key).await?;
    let stored = state
        .store
        .stored_report(key.as_str(), as_of)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "report_not_found",
                format!("no stored report of `{}` as of {as_of}", key.as_str()),
            )
        })?;
    Ok(HttpResponse::Ok().json(stored.report))
}
