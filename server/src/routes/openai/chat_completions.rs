//! `POST /v1/chat/completions`. `model` names an experiment (the server assigns `user`'s arm and
//! draws the component) or a model id. `metadata.conversation_id` continues a conversation.
//! `stream: true` answers in OpenAI's chunk format, ending with `data: [DONE]`; with
//! `stream_options.include_usage` a last chunk carries `usage`.

use crate::body::JsonBody;
use crate::error::ApiErrorBody;
use actix_web::{
    web::{self, Bytes},
    HttpResponse,
};
use serde_json::{json, Value};

use super::request::CompletionRequest;
use crate::{
    auth::Caller,
    chat::{prepare_turn, ChatError, TurnOutput},
    error::{ApiError, OpenAiError},
    routes::streaming::{self, frame, TurnEvent},
    state::AppState,
};

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = CompletionRequest, responses((status = 200, description = "an OpenAI chat.completion, or chunks with `stream`"), (status = 400, description = "invalid request", body = ApiErrorBody), (status = 401, description = "missing or invalid credentials", body = ApiErrorBody), (status = 403, description = "valid credentials without the right", body = ApiErrorBody), (status = 404, description = "no such model or experiment", body = ApiErrorBody), (status = 429, description = "at capacity or rate-limited", body = ApiErrorBody)))]
#[tracing::instrument(name = "openai.chat_completions", skip_all, fields(model = %body.model()))]
pub async fn chat_completions(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonBody<CompletionRequest>,
) -> Result<HttpResponse, OpenAiError> {
    // An unknown `model` is the first thing to report, before what an experiment would need.
    if !state.models.contains(body.model())
        && state
            .store
            .experiment(body.model())
            .await
            .map_err(ApiError::from)?
            .is_none()
    {
        return Err(ChatError::UnknownTarget(body.model().to_owned()))
            .map_err(|e| ApiError::from(e).into());
    }
    let body = body.into_inner();
    let stream = body.streams();
    let include_usage = body.include_usage();
    let turn = prepare_turn(&state, body.into_turn(&state, &caller)?)
        .await
        .map_err(ApiError::from)?;
    let mut response = HttpResponse::Ok();
    response.insert_header(("x-blendlab-conversation-id", turn.conversation_id()));
    if let Some(arm) = turn.arm() {
        response.insert_header(("x-blendlab-arm", arm));
    }
    if !stream {
        let output = turn.complete(&state, None).await.map_err(ApiError::from)?;
        return Ok(response.json(completion_body(&output)));
    }
    let chunks = ChunkShape {
        id: format!("chatcmpl-{}", turn.message_id()),
        created: turn.arrived_at().timestamp(),
        model: turn.model().to_owned(),
        include_usage,
    };
    let (first, rest) = streaming::start(state, turn).await;
    if let TurnEvent::Finished(Err(error)) = first {
        return Err(ApiError::from(error).into());
    }
    let opening = frame(
        None,
        &chunks.chunk(json!({ "role": "assistant", "content": "" }), None),
    );
    Ok(streaming::respond(
        response,
        opening,
        first,
        rest,
        move |event| chunks.frames(event),
    ))
}

fn completion_body(output: &TurnOutput) -> Value {
    json!({
        "id": format!("chatcmpl-{}", output.message_id),
        "object": "chat.completion",
        "created": output.created_at.timestamp(),
        "model": output.model,
        "system_fingerprint": null,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": output.reply, "refusal": null },
            "logprobs": null,
            "finish_reason": output.finish_reason,
        }],
        "usage": output.usage,
        "metadata": { "conversation_id": output.conversation_id },
        "blendlab": blendlab_fields(output),
    })
}

fn blendlab_fields(output: &TurnOutput) -> Value {
    json!({
        "conversation_id": output.conversation_id,
        "message_id": output.message_id,
        "experiment": output.experiment,
        "arm": output.arm,
        "choice_prob": output.choice_prob,
        "latency_ms": output.latency_ms,
    })
}

/// What every chunk of one streamed completion shares, in OpenAI's `chat.completion.chunk` shape.
struct ChunkShape {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
}

impl ChunkShape {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn frames(&self, event: TurnEvent) -> Vec<Bytes> {
        match event {
            TurnEvent::Delta(text) => {
                vec![frame(None, &self.chunk(json!({ "content": text }), None))]
            }
            TurnEvent::Finished(Ok(output)) => {
                let mut last = self.chunk(json!({}), Some(output.finish_reason));
                last["blendlab"] = blendlab_fields(&output);
                let mut frames = vec![frame(None, &last)];
                if self.include_usage {
                    let mut usage = self.chunk(json!({}), None);
                    usage["choices"] = json!([]);
                    usage["usage"] = json!(output.usage);
                    frames.push(frame(None, &usage));
                }
                frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
                frames
            }
            TurnEvent::Finished(Err(error)) => {
                vec![frame(None, &OpenAiError(ApiError::from(error)).body())]
            }
        }
    }
}
