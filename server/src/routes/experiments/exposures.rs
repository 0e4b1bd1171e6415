use std::collections::BTreeMap;

use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{load, parse_key};
use crate::{auth::Admin, error::ApiError, state::AppState};

/// First exposures per UTC day and arm, for the dashboard's live chart:
/// `{experiment, users, arms: [name], totals: {arm: n}, days: [{date, exposures: {arm: n}}]}`.
/// Every arm of the definition is listed, exposed or not, in the definition's order; `days` runs
/// from the first exposure's day to the last one's without gaps.
#[utoipa::path(get, path = "/api/v1/experiments/{key}/exposures", tag = "experiments", params(("key" = String, Path, description = "the experiment key, [a-z0-9-]{1,64}")), responses((status = 200, description = "exposures per UTC day and arm"), (status = 400, description = "invalid key", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment", body = ApiErrorBody)))]
#[tracing::instrument(name = "experiments.exposures", skip_all, fields(experiment = %path))]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = parse_key(&path)?;
    let experiment = load(&state, &key).await?;
    let rows = state.store.exposures_per_day(key.as_str()).await?;
    let mut arms: Vec<&str> = experiment
        .definition
        .arms
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let mut totals: BTreeMap<&str, i64> = arms.iter().map(|a| (*a, 0)).collect();
    let mut days: BTreeMap<_, BTreeMap<&str, i64>> = BTreeMap::new();
    for (day, arm, users) in &rows {
        // An arm a draft's edit has since renamed still has its exposures.
        if !arms.contains(&arm.as_str()) {
            arms.push(arm);
        }
        *totals.entry(arm.as_str()).or_default() += users;
        days.entry(*day).or_default().insert(arm.as_str(), *users);
    }
    // Every day from the first exposure to the last, quiet days as zeros, so a chart's axis is
    // calendar time.
    let span = match (days.keys().next(), days.keys().next_back()) {
        (Some(first), Some(last)) => first.iter_days().take_while(|d| d <= last).collect(),
        _ => Vec::new(),
    };
    let days: Vec<_> = span
        .into_iter()
        .map(|date| json!({ "date": date, "exposures": days.get(&date).cloned().unwrap_or_default() }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "experiment": key.as_str(),
        "users": totals.values().sum::<i64>(),
        "arms": arms,
        "totals": totals,
        "days": days,
    })))
}
