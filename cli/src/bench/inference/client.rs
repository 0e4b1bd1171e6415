//! Timing one streamed reply over HTTP, as a client sees it.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use serde_json::Value;

/// One streamed reply as a client saw it.
#[derive(Debug, Clone)]
pub struct StreamedReply {
    pub time_to_first_token: Duration,
    pub total: Duration,
    pub completion_tokens: u32,
    pub text: String,
    pub model: String,
}

impl StreamedReply {
    /// Decode rate after the first token: the part of serving that batching and caching change.
    pub fn decode_tokens_per_second(&self) -> f64 {
        let decoding = (self.total - self.time_to_first_token).as_secs_f64();
        f64::from(self.completion_tokens.saturating_sub(1)) / decoding.max(1e-9)
    }
}

/// POSTs `body` (with streaming on) and reads the events of `/api/v1/chat` or the chunks of
/// `/v1/chat/completions` until the end.
pub async fn stream(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<StreamedReply> {
    let started = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {}", response.text().await?);
    }
    let mut bytes = response.bytes_stream();
    let mut pending = String::new();
    let mut reply = StreamedReply {
        time_to_first_token: Duration::ZERO,
        total: Duration::ZERO,
        completion_tokens: 0,
        text: String::new(),
        model: String::new(),
    };
    while let Some(piece) = bytes.next().await {
        pending.push_str(std::str::from_utf8(&piece?).context("a chunk split a character")?);
        while let Some(end) = pending.find("\n\n") {
            let frame: String = pending.drain(..end + 2).collect();
            let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            if data == "[DONE]" {
                continue;
            }
            let event: Value = serde_json::from_str(data)?;
            if let Some(error) = event.get("error") {
                anyhow::bail!("the stream failed: {error}");
            }
            let text = event["text"]
                .as_str()
                .or_else(|| event["choices"][0]["delta"]["content"].as_str())
                .unwrap_or_default();
            if !text.is_empty() && reply.text.is_empty() {
                reply.time_to_first_token = started.elapsed();
            }
            reply.text.push_str(text);
            if let Some(tokens) = event["usage"]["completion_tokens"].as_u64() {
                reply.completion_tokens = tokens as u32;
            }
            if let Some(model) = event["model"].as_str() {
                reply.model = model.to_owned();
            }
        }
    }
    reply.total = started.elapsed();
    if reply.text.is_empty() {
        reply.time_to_first_token = reply.total;
    }
    Ok(reply)
}
