//! `GET /api/v1/conversations/{id}`: a stored conversation with every message.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::{auth::Admin, chat::validate_conversation_id, error::ApiError, state::AppState};

#[tracing::instrument(name = "api.conversation", skip_all, fields(conversation = %path))]
pub async fn get_conversation(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    validate_conversation_id(&path).map_err(ApiError::from)?;
    let conversation = state.store.conversation(&path).await?.ok_or_else(|| {
        ApiError::not_found(
            "conversation_not_found",
            format!("conversation {:?} does not exist", path.as_str()),
        )
    })?;
    let messages: Vec<_> = state
        .store
        .messages(&path)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "message_id": m.message_id,
                "role": m.role,
                "model": m.model,
                "content": m.content,
                "created_at": m.created_at,
                "choice_prob": m.choice_prob,
                "latency_ms": m.latency_ms,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "conversation_id": conversation.conversation_id,
        "user_id": conversation.user_id,
        "experiment": conversation.experiment,
        "arm": conversation.arm,
        "created_at": conversation.created_at,
        "messages": messages,
    })))
}
