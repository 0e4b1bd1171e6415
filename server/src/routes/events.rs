//! `POST /api/v1/events`: engagement signals (feedback, retries, app opens), up to 1,000 a batch.

use crate::body::JsonBody;
use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::Caller,
    chat::{validate_user_id, ChatError},
    error::ApiError,
    state::AppState,
};
use blendlab_store::NewEvent;

pub const MAX_EVENTS_PER_BATCH: usize = 1000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{"user_id": "user-42", "kind": "thumbs_up", "value": 1}]}))]
pub struct EventBatch {
    #[schema(min_items = 1, max_items = 1000)]
    events: Vec<EventInput>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EventInput {
    #[schema(min_length = 1, max_length = 256)]
    user_id: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    conversation_id: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    message_id: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
    kind: String,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

impl EventInput {
    fn parse(self, index: usize, now: DateTime<Utc>) -> Result<NewEvent, ChatError> {
        let at = |problem: String| ChatError::Validation(format!("events[{index}]: {problem}"));
        validate_user_id(&self.user_id).map_err(|e| at(e.to_string()))?;
        let kind_ok = !self.kind.is_empty()
            && self.kind.len() <= 64
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !kind_ok {
            return Err(at(
                "kind must be 1 to 64 characters of [A-Za-z0-9_.:-]".into()
            ));
        }
        if self.value.is_some_and(|v| !v.is_finite()) {
            return Err(at("value must be a finite number".into()));
        }
        for (name, id) in [
            ("conversation_id", &self.conversation_id),
            ("message_id", &self.message_id),
        ] {
            if id
                .as_ref()
                .is_some_and(|id| id.is_empty() || id.len() > 128)
            {
                return Err(at(format!("{name} must be 1 to 128 characters")));
            }
        }
        Ok(NewEvent {
            user_id: self.user_id,
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            kind: self.kind,
            value: self.value,
            created_at: self.created_at.unwrap_or(now),
        })
    }
}

#[utoipa::path(post, path = "/api/v1/events", tag = "chat", request_body = EventBatch, responses((status = 200, description = "stored durably: `{\"accepted\": n}`"), (status = 400, description = "invalid batch, naming the event", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 413, description = "body too large", body = ApiErrorBody), (status = 429, description = "rate-limited", body = ApiErrorBody)))]
#[tracing::instrument(name = "api.events", skip_all, fields(events = body.events.len()))]
pub async fn post_events(
    _: Caller,
    state: web::Data<AppState>,
    body: JsonBody<EventBatch>,
) -> Result<HttpResponse, ApiError> {
    let batch = body.into_inner().events;
    if batch.is_empty() || batch.len() > MAX_EVENTS_PER_BATCH {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!(
                "a batch holds 1 to {MAX_EVENTS_PER_BATCH} events; this one has {}",
                batch.len()
            ),
        ));
    }
    let now = Utc::now();
    let events = batch
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.parse(i, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::from)?;
    let accepted = events.len();
    // Durable before the acknowledgement: this waits for the group commit that includes them.
    state.events.write(events).await?;
    Ok(HttpResponse::Ok().json(json!({ "accepted": accepted })))
}
