//! `POST /api/v1/chat`: the stateful chat. The server keeps the history. With `"stream": true`
//! the reply arrives as server-sent events: `turn` (ids, arm, component), `delta` pieces, then
//! `done` with the same body as the non-streaming response, or `error`.

use crate::body::JsonBody;
use crate::error::ApiErrorBody;
use actix_web::{web, HttpResponse};
use blendlab_experiments::{ExperimentKey, UserAttributes};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::streaming::{self, frame, TurnEvent};
use crate::{
    auth::Caller,
    chat::{
        prepare_turn, validate_conversation_id, validate_user_id, ChatError, History, Target,
        TurnInput, TurnOutput,
    },
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"experiment": "chai-blend", "user_id": "user-42", "message": "Hi!", "max_tokens": 4}))]
pub struct ChatRequest {
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    experiment: String,
    #[schema(min_length = 1, max_length = 256)]
    user_id: String,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,128}$")]
    conversation_id: Option<String>,
    #[schema(min_length = 1)]
    message: String,
    #[serde(default)]
    #[schema(minimum = 1)]
    max_tokens: Option<u32>,
    #[serde(default)]
    stream: bool,
    /// What the product knows of the user (platform, locale, channel, …): at most 20 names of
    /// `[a-z][a-z0-9_]*`, string values of 1 to 128 characters. Stored with the user's first
    /// exposure to the experiment; later values change nothing.
    #[serde(default)]
    #[schema(example = json!({"platform": "ios", "locale": "en-GB"}))]
    attributes: Option<BTreeMap<String, String>>,
}

impl ChatRequest {
    fn into_turn(self, state: &AppState, caller: &Caller) -> Result<TurnInput, ChatError> {
        ExperimentKey::parse(&self.experiment).map_err(|e| ChatError::Validation(e.to_string()))?;
        validate_user_id(&self.user_id)?;
        if let Some(id) = &self.conversation_id {
            validate_conversation_id(id)?;
        }
        validate_message(&self.message, state.settings.max_message_chars)?;
        validate_max_tokens(self.max_tokens, state.settings.max_tokens_limit)?;
        let attributes = UserAttributes::parse(self.attributes.unwrap_or_default())
            .map_err(|e| ChatError::Validation(e.to_string()))?;
        Ok(TurnInput {
            target: Target::Experiment(self.experiment),
            user_id: self.user_id,
            conversation_id: self.conversation_id,
            history: History::Stored {
                message: self.message,
            },
            max_tokens: self.max_tokens,
            temperature: None,
            top_p: None,
            stop: Vec::new(),
            seed: None,
            client_key: caller.client_key().map(str::to_owned),
            attributes,
        })
    }
}

pub fn validate_message(message: &str, max_chars: usize) -> Result<(), ChatError> {
    if message.trim().is_empty() {
        return Err(ChatError::Validation("message must not be empty".into()));
    }
    let chars = message.chars().count();
    if chars > max_chars {
        return Err(ChatError::Validation(format!(
            "message has {chars} characters; the limit is {max_chars}"
        )));
    }
    Ok(())
}

pub fn validate_max_tokens(max_tokens: Option<u32>, limit: u32) -> Result<(), ChatError> {
    match max_tokens {
        Some(n) if n == 0 || n > limit => Err(ChatError::Validation(format!(
            "max_tokens must be between 1 and {limit}"
        ))),
        _ => Ok(()),
    }
}

#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", request_body = ChatRequest, responses((status = 200, description = "the reply (or server-sent events with `stream`)"), (status = 400, description = "invalid request", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such experiment or conversation", body = ApiErrorBody), (status = 409, description = "not running, or another turn came first", body = ApiErrorBody), (status = 429, description = "at capacity or rate-limited; see Retry-After", body = ApiErrorBody)))]
#[tracing::instrument(name = "api.chat", skip_all)]
pub async fn chat(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonBody<ChatRequest>,
) -> Result<HttpResponse, ApiError> {
    let stream = body.stream;
    let turn = prepare_turn(&state, body.into_inner().into_turn(&state, &caller)?).await?;
    let mut response = HttpResponse::Ok();
    if let Some(arm) = turn.arm() {
        response.insert_header(("x-blendlab-arm", arm));
    }
    if !stream {
        let output = turn.complete(&state, None).await?;
        return Ok(response.json(reply_body(&output)));
    }
    let opening = frame(
        Some("turn"),
        &json!({
            "conversation_id": turn.conversation_id(),
            "message_id": turn.message_id(),
            "arm": turn.arm(),
            "model": turn.model(),
        }),
    );
    let (first, rest) = streaming::start(state, turn).await;
    if let TurnEvent::Finished(Err(error)) = first {
        return Err(error.into());
    }
    Ok(streaming::respond(
        response,
        opening,
        first,
        rest,
        |event| {
            vec![match event {
                TurnEvent::Delta(text) => frame(Some("delta"), &json!({ "text": text })),
                TurnEvent::Finished(Ok(output)) => frame(Some("done"), &reply_body(&output)),
                TurnEvent::Finished(Err(error)) => {
                    frame(Some("error"), &ApiError::from(error).body())
                }
            }]
        },
    ))
}

fn reply_body(output: &TurnOutput) -> Value {
    json!({
        "conversation_id": output.conversation_id,
        "message_id": output.message_id,
        "arm": output.arm,
        "model": output.model,
        "reply": output.reply,
        "usage": output.usage,
        "choice_prob": output.choice_prob,
        "finish_reason": output.finish_reason,
        "latency_ms": output.latency_ms,
    })
}
