//! `GET /api/v1/conversations/{id}`: a stored conversation with every message.

use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::{auth::Caller, chat::validate_conversation_id, error::ApiError, state::AppState};

#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "chat", params(("conversation_id" = String, Path, description = "the conversation")), responses((status = 200, description = "the conversation and every message"), (status = 400, description = "invalid id", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such conversation", body = ApiErrorBody), (status = 429, description = "rate-limited", body = ApiErrorBody)))]
#[tracing::instrument(name = "api.conversation", skip_all, fields(conversation = %path))]
pub async fn get_conversation(
    caller: Caller,
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
    if !caller.owns(conversation.client_key.as_deref()) {
        return Err(ApiError::forbidden(
            "this conversation was started with other credentials; a client key reads only its own",
        ));
    }
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
