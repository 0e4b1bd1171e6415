//! Admin: client API keys. `POST /api/v1/keys` shows the key once; the store keeps its SHA-256.
//! `GET /api/v1/keys` lists them without secrets; `DELETE /api/v1/keys/{id}` revokes one.

use crate::body::JsonBody;
use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{auth::Admin, error::ApiError, state::AppState};
use blendlab_store::ClientKeyRow;

const MAX_REQUESTS_PER_MINUTE: u32 = 1_000_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "mobile app", "requests_per_minute": 1200}))]
pub struct NewKey {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Requests a minute this key may make (per replica); default
    /// `server.client_requests_per_minute`. Signed, so that a negative number gets this endpoint's
    /// own message rather than a parser's.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    requests_per_minute: Option<i64>,
}

fn view(row: &ClientKeyRow) -> Value {
    json!({
        "id": row.key_id,
        "name": row.name,
        "requests_per_minute": row.requests_per_minute,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    })
}

#[tracing::instrument(name = "api.keys.create", skip_all)]
#[utoipa::path(post, path = "/api/v1/keys", tag = "admin", request_body = NewKey, responses((status = 201, description = "the key, shown this once"), (status = 400, description = "invalid name or limit", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody)))]
pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: JsonBody<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let NewKey {
        name,
        requests_per_minute,
    } = body.into_inner();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_key",
            "name must be 1 to 100 characters without control characters",
        ));
    }
    let requests_per_minute = requests_per_minute
        .unwrap_or(state.settings.client_requests_per_minute.into())
        .try_into()
        .ok()
        .filter(|n| (1..=MAX_REQUESTS_PER_MINUTE).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_key",
                format!("requests_per_minute must be 1 to {MAX_REQUESTS_PER_MINUTE}"),
            )
        })?;
    let issued = crate::auth::issue(name, requests_per_minute, Utc::now());
    state.store.insert_client_key(&issued.row).await?;
    tracing::info!(key_id = %issued.row.key_id, "client key created");
    let mut body = view(&issued.row);
    body["key"] = Value::String(issued.key);
    Ok(HttpResponse::Created().json(body))
}

#[tracing::instrument(name = "api.keys.list", skip_all)]
#[utoipa::path(get, path = "/api/v1/keys", tag = "admin", responses((status = 200, description = "every key, without secrets"), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody)))]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<_> = state.store.client_keys().await?.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "keys": keys })))
}

#[tracing::instrument(name = "api.keys.revoke", skip_all, fields(key_id = %path))]
#[utoipa::path(delete, path = "/api/v1/keys/{key_id}", tag = "admin", params(("key_id" = String, Path, description = "the key's id")), responses((status = 200, description = "revoked (again: the first time is kept)"), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such key", body = ApiErrorBody)))]
pub async fn revoke(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let revoked = state.store.revoke_client_key(&path, Utc::now()).await?;
    let row = revoked.ok_or_else(|| {
        ApiError::not_found(
            "key_not_found",
            format!("no client key has id {:?}", path.as_str()),
        )
    })?;
    state.credentials.keys.forget(&row.key_id);
    Ok(HttpResponse::Ok().json(view(&row)))
}
