use crate::error::ApiErrorBody;
use actix_web::{http::StatusCode, web, HttpResponse};
use blendlab_analytics::stats::off_policy::CandidatePolicy;
use blendlab_analytics::AnalyticsError;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::{load, parse_key};
use crate::{
    auth::Admin,
    error::ApiError,
    reporting::{source::report_evaluating, source::StoreReportError, ReportFormat},
    state::AppState,
};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The last UTC day that counts (default: today).
    as_of: Option<NaiveDate>,
    #[param(inline)]
    format: Option<ReportFormat>,
    /// Candidate blend policies to evaluate off-policy besides the defaults, separated by `;`
    /// (`uniform`, `weighted:W1,W2,...`, `only:MODEL`, `no_repeat`).
    evaluate_policy: Option<String>,
}

/// The policy specs of `evaluate_policy`, each checked, or a 400 naming the bad one.
fn policies(query: &ReportQuery) -> Result<Vec<String>, ApiError> {
    let Some(list) = &query.evaluate_policy else {
        return Ok(Vec::new());
    };
    list.split(';')
        .map(str::trim)
        .filter(|spec| !spec.is_empty())
        .map(|spec| {
            CandidatePolicy::parse(spec)
                .map(|_| spec.to_owned())
                .map_err(|e| {
                    ApiError::bad_request("invalid_policy", e.to_string())
                        .with_param("evaluate_policy")
                })
        })
        .collect()
}

/// The report of docs/architecture.md computed now over the store: JSON (default), `md` or `html`.
#[utoipa::path(get, path = "/api/v1/experiments/{key}/report", tag = "reports", params(("key" = String, Path, description = "the experiment key"), ReportQuery), responses((status = 200, description = "the report of docs/architecture.md, computed now"), (status = 400, description = "invalid key, date, format or policy", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody)))]
#[tracing::instrument(name = "experiments.report", skip_all, fields(experiment = %path))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    load(&state, &key).await?;
    let policies = policies(&query)?;
    let today = Utc::now().date_naive();
    let as_of = query.as_of.unwrap_or(today);
    let report = report_evaluating(&state.store, key.as_str(), as_of, today, &policies)
        .await
        .map_err(report_error)?;
    let format = query.format.unwrap_or(ReportFormat::Json);
    let body = format.render(&report).map_err(ApiError::unexpected)?;
    let content_type = match format {
        ReportFormat::Json => "application/json",
        ReportFormat::Md => "text/markdown; charset=utf-8",
        ReportFormat::Html => "text/html; charset=utf-8",
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

fn report_error(error: StoreReportError) -> ApiError {
    match error {
        StoreReportError::UnknownExperiment(key) => ApiError::not_found(
            "experiment_not_found",
            format!("experiment `{key}` does not exist"),
        ),
        StoreReportError::Analytics(error @ AnalyticsError::UnknownExperiment(_)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_exposures",
            format!("{error}: no user has been exposed yet"),
        ),
        StoreReportError::Analytics(error) if error.is_user_error() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_report_request",
            error.to_string(),
        )
        .with_param("as_of"),
        StoreReportError::Store(error) => error.into(),
        other => ApiError::unexpected(anyhow::Error::new(other)),
    }
}
