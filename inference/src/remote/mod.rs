//! The `openai` backend: an OpenAI-compatible endpoint writes the reply (another blendlab,
//! llama.cpp's server, vLLM, a hosted model for the "large" arm).
//!
//! It always streams from the endpoint, so the reply relays as it arrives and a client that leaves
//! closes the remote request too. A connection error, a timeout, 429 or 5xx is retried with
//! jittered exponential backoff, but only before any of the reply has arrived: a half-written
//! reply cannot be taken back.

mod sse;

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use serde_json::{json, Value};

use crate::{
    backend::{
        ChatBackend, FinishReason, Generation, GenerationRequest, InferenceError, TextDeltas,
    },
    config::ModelConfig,
};

/// OpenAI accepts at most four stop strings.
const MAX_STOP_STRINGS: usize = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

pub struct OpenAiBackend {
    client: reqwest::Client,
    endpoint: String,
    remote_model: String,
    api_key: Option<String>,
    retries: u32,
    /// `idle_timeout_s = …, timeout_s = …`, for messages.
    timeouts: String,
}

/// The start of a long payload, for an error message.
fn clip(payload: &str) -> String {
    const SHOWN: usize = 200;
    match payload.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &payload[..end]),
        None => payload.to_owned(),
    }
}

/// Why one attempt failed, and whether another may help.
struct Failure {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl OpenAiBackend {
    pub fn new(config: &ModelConfig) -> anyhow::Result<Self> {
        config.validate().map_err(anyhow::Error::msg)?;
        let base_url = config.base_url.as_deref().unwrap_or_default();
        let api_key = match &config.api_key_env {
            None => None,
            Some(name) => Some(std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "model {:?}: environment variable {name} is not set",
                    config.id
                )
            })?),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs_f64(config.timeout_s))
            // Each read, the answer's head and every chunk after it: a hung endpoint fails fast.
            .read_timeout(Duration::from_secs_f64(config.idle_timeout_s))
            .build()?;
        Ok(Self {
            client,
            endpoint: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            remote_model: config
                .remote_model
                .clone()
                .unwrap_or_else(|| config.id.clone()),
            api_key,
            retries: config.retries,
            timeouts: format!(
                "idle_timeout_s = {}, timeout_s = {}",
                config.idle_timeout_s, config.timeout_s
            ),
        })
    }

    fn body(&self, request: &GenerationRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = json!({
            "model": self.remote_model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        if !request.stop.is_empty() {
            let stop: Vec<&String> = request.stop.iter().take(MAX_STOP_STRINGS).collect();
            body["stop"] = json!(stop);
        }
        body
    }

    async fn attempt(&self, body: &Value) -> Result<reqwest::Response, Failure> {
        let mut request = self.client.post(&self.endpoint).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| Failure {
            message: match e.is_timeout() {
                true => format!(
                    "{} did not answer in time ({})",
                    self.endpoint, self.timeouts
                ),
                false => format!("{} did not answer: {e}", self.endpoint),
            },
            retryable: e.is_connect() || e.is_timeout(),
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
            .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0)));
        let detail = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|b| b["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(Failure {
            message: format!("{} answered {status}: {detail}", self.endpoint),
            retryable: status.as_u16() == 429 || status.is_server_error(),
            retry_after,
        })
    }

    async fn relay(
        &self,
        response: reqwest::Response,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError> {
        let mut reply = RemoteReply::default();
        let mut lines = sse::DataLines::default();
        let mut body = response.bytes_stream();
        loop {
            let next = match &deltas {
                Some(deltas) => tokio::select! {
                    next = body.next() => next,
                    () = deltas.closed() => return Ok(reply.finish(FinishReason::Cancelled)),
                },
                None => body.next().await,
            };
            let bytes = match next {
                Some(Ok(bytes)) => bytes,
                Some(Err(e)) if e.is_timeout() => {
                    let why = format!("it went silent ({})", self.timeouts);
                    return Err(self.broken(reply, &why));
                }
                Some(Err(e)) => return Err(self.broken(reply, &e.to_string())),
                None => return Err(self.broken(reply, "the stream ended without [DONE]")),
            };
            for payload in lines.feed(&bytes) {
                if payload == "[DONE]" {
                    let finish = reply.finish_reason.unwrap_or(FinishReason::Stop);
                    return Ok(reply.finish(finish));
                }
                let chunk: Value = match serde_json::from_str(&payload) {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        let why = format!("an unreadable chunk ({e}): {}", clip(&payload));
                        return Err(self.broken(reply, &why));
                    }
                };
                if let Some(message) = chunk["error"]["message"].as_str() {
                    let why = format!("it sent an error: {message}");
                    return Err(self.broken(reply, &why));
                }
                if let Some(text) = reply.absorb(&chunk) {
                    if let Some(deltas) = &deltas {
                        if deltas.send(text).is_err() {
                            // The reader has gone: the reply is what it received.
                            reply.take_back_last();
                            return Ok(reply.finish(FinishReason::Cancelled));
                        }
                    }
                }
            }
        }
    }

    /// The endpoint failed mid-answer. What had arrived of the reply goes with the error, so that
    /// it is logged as a reply that ended in an error.
    fn broken(&self, reply: RemoteReply, why: &str) -> InferenceError {
        let message = format!(
            "{} broke off after {} characters of the reply: {why}",
            self.endpoint,
            reply.text.chars().count()
        );
        if reply.text.is_empty() {
            return InferenceError::Upstream(message);
        }
        InferenceError::UpstreamBrokeOff {
            message,
            partial: Box::new(reply.finish(FinishReason::Error)),
        }
    }
}

/// The reply as it arrives in chunks.
#[derive(Default)]
struct RemoteReply {
    text: String,
    chunks: u32,
    finish_reason: Option<FinishReason>,
    usage: Option<(u32, u32)>,
    cached_tokens: u32,
    /// Bytes of the last absorbed chunk of text.
    last_len: usize,
}

impl RemoteReply {
    /// Takes one chunk in; returns its new text.
    fn absorb(&mut self, chunk: &Value) -> Option<String> {
        let usage = &chunk["usage"];
        if let (Some(prompt), Some(completion)) = (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64(),
        ) {
            self.usage = Some((prompt as u32, completion as u32));
        }
        if let Some(cached) = usage["prompt_tokens_details"]["cached_tokens"].as_u64() {
            self.cached_tokens = cached as u32;
        }
        let choice = &chunk["choices"][0];
        self.finish_reason = match choice["finish_reason"].as_str() {
            Some("length") => Some(FinishReason::Length),
            Some(_) => Some(FinishReason::Stop),
            None => self.finish_reason,
        };
        let text = choice["delta"]["content"]
            .as_str()
            .filter(|t| !t.is_empty())?;
        self.text.push_str(text);
        self.last_len = text.len();
        self.chunks += 1;
        Some(text.to_owned())
    }

    /// Forgets the chunk of text absorbed last (its reader never got it).
    fn take_back_last(&mut self) {
        self.text.truncate(self.text.len() - self.last_len);
        self.chunks -= 1;
    }

    /// Without `usage` from the endpoint, each content chunk counts as one token.
    fn finish(self, finish_reason: FinishReason) -> Generation {
        let (prompt_tokens, completion_tokens) = self.usage.unwrap_or((0, self.chunks));
        Generation {
            text: self.text,
            prompt_tokens,
            prefill_tokens: prompt_tokens.saturating_sub(self.cached_tokens),
            completion_tokens,
            finish_reason,
            dropped_messages: 0,
        }
    }
}

/// Exponential from 200 ms, capped at 5 s, times a random factor in [0.5, 1.5) so that replicas
/// retrying together spread out; a `Retry-After` from the endpoint wins.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let exponential = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(8))
        .min(LONGEST_BACKOFF);
    exponential.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

#[async_trait::async_trait]
impl ChatBackend for OpenAiBackend {
    #[tracing::instrument(name = "remote.generate", skip_all, fields(endpoint = %self.endpoint, attempts))]
    async fn generate(
        &self,
        request: GenerationRequest,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError> {
        let body = self.body(&request);
        let mut attempt = 0;
        let response = loop {
            match self.attempt(&body).await {
                Ok(response) => break response,
                Err(failure) if failure.retryable && attempt < self.retries => {
                    tracing::warn!(attempt, error = %failure.message, "retrying the remote model");
                    tokio::time::sleep(backoff(attempt, failure.retry_after)).await;
                    attempt += 1;
                }
                Err(failure) => {
                    let tries = attempt + 1;
                    return Err(InferenceError::Upstream(format!(
                        "{} (after {tries} attempt{})",
                        failure.message,
                        if tries == 1 { "" } else { "s" }
                    )));
                }
            }
        };
        tracing::Span::current().record("attempts", attempt + 1);
        self.relay(response, deltas).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 0..12 {
            let wait = backoff(attempt, None);
            let base = FIRST_BACKOFF
                .saturating_mul(1 << attempt.min(8))
                .min(LONGEST_BACKOFF);
            assert!(
                wait >= base.mul_f64(0.5) && wait < base.mul_f64(1.5),
                "{attempt}: {wait:?}"
            );
        }
        assert_eq!(
            backoff(3, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn chunks_build_the_reply_and_usage() {
        let mut reply = RemoteReply::default();
        assert_eq!(
            reply.absorb(
                &json!({ "choices": [{ "delta": { "role": "assistant", "content": "" } }] })
            ),
            None
        );
        assert_eq!(
            reply
                .absorb(&json!({ "choices": [{ "delta": { "content": "Hel" } }] }))
                .as_deref(),
            Some("Hel")
        );
        reply.absorb(
            &json!({ "choices": [{ "delta": { "content": "lo" }, "finish_reason": "length" }] }),
        );
        reply.absorb(
            &json!({ "choices": [], "usage": { "prompt_tokens": 9, "completion_tokens": 4 } }),
        );
        assert_eq!(reply.finish_reason, Some(FinishReason::Length));
        let generation = reply.finish(FinishReason::Length);
        assert_eq!(generation.text, "Hello");
        assert_eq!(
            (generation.prompt_tokens, generation.completion_tokens),
            (9, 4)
        );
    }
}
